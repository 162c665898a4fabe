// The environment variables of the guide, under their PTINFER_ names and the guide's names.
// The PTINFER_ name wins when both are set; command-line flags (applied by the caller) win over
// both. Every value is validated: a bad one is an Error(kInvalidArgument) naming the variable,
// the value and what is allowed (the CLI exits with code 2).
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace ptinfer::runtime {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kNone = 4 };

struct RuntimeConfig {
  std::optional<int> device_id;          // PTINFER_DEVICE_ID / ASCEND_DEVICE_ID: accelerator index
  bool log_stdout = false;               // PTINFER_LOG_STDOUT / ASCEND_SLOG_PRINT_TO_STDOUT: 0|1
  LogLevel log_level = LogLevel::kInfo;  // PTINFER_LOG_LEVEL / ASCEND_GLOBAL_LOG_LEVEL: 0..4
  bool task_queue = true;          // PTINFER_TASK_QUEUE / TASK_QUEUE_ENABLE: 1 async, 0 serial
  std::string log_dir;             // PTINFER_LOG_DIR, default $HOME/.ptinfer/log
  std::optional<int> num_threads;  // PTINFER_NUM_THREADS, else OMP_NUM_THREADS: >= 1
};

// Looks a variable up; returns nullopt when unset. Tests pass a map instead of the environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment as an EnvLookup.
EnvLookup process_environment();

// Reads and validates every variable. Throws Error(kInvalidArgument) on the first bad value.
RuntimeConfig read_runtime_config(const EnvLookup& env);

// Name of a log level as the guide's table says it ("debug", "info", ...).
const char* log_level_name(LogLevel level);

}  // namespace ptinfer::runtime
