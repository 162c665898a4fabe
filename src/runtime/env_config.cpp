#include "runtime/env_config.h"

#include <cstdlib>
#include <string>

#include "common/error.h"

namespace ptinfer::runtime {
namespace {

struct Setting {
  std::string variable;  // the name that was set (the one the message must name)
  std::string value;
};

// The PTINFER_ name first, then the guide's name.
std::optional<Setting> lookup(const EnvLookup& env, const std::string& ours,
                              const std::string& guides) {
  if (auto v = env(ours)) return Setting{ours, *v};
  if (!guides.empty()) {
    if (auto v = env(guides)) return Setting{guides, *v};
  }
  return std::nullopt;
}

[[noreturn]] void invalid(const Setting& s, const std::string& allowed) {
  throw Error(ErrorKind::kInvalidArgument,
              "environment variable " + s.variable + "='" + s.value + "' is invalid: " + allowed);
}

// A decimal integer in [lo, hi], nothing else (no spaces, signs other than '-', or suffixes).
int parse_int(const Setting& s, int lo, int hi, const std::string& allowed) {
  const std::string& v = s.value;
  if (v.empty() || v.size() > 9) invalid(s, allowed);
  size_t i = (v[0] == '-') ? 1 : 0;
  if (i == v.size()) invalid(s, allowed);
  for (; i < v.size(); ++i) {
    if (v[i] < '0' || v[i] > '9') invalid(s, allowed);
  }
  int n = std::stoi(v);
  if (n < lo || n > hi) invalid(s, allowed);
  return n;
}

bool parse_flag(const Setting& s) { return parse_int(s, 0, 1, "allowed values are 0 and 1") == 1; }

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kNone:
      return "none";
  }
  return "?";
}

RuntimeConfig read_runtime_config(const EnvLookup& env) {
  RuntimeConfig config;
  if (auto s = lookup(env, "PTINFER_DEVICE_ID", "ASCEND_DEVICE_ID")) {
    config.device_id = parse_int(*s, 0, 1 << 20, "expected a device index >= 0");
  }
  if (auto s = lookup(env, "PTINFER_LOG_STDOUT", "ASCEND_SLOG_PRINT_TO_STDOUT")) {
    config.log_stdout = parse_flag(*s);
  }
  if (auto s = lookup(env, "PTINFER_LOG_LEVEL", "ASCEND_GLOBAL_LOG_LEVEL")) {
    config.log_level = static_cast<LogLevel>(parse_int(
        *s, 0, 4, "allowed values are 0 (debug), 1 (info), 2 (warning), 3 (error), 4 (none)"));
  }
  if (auto s = lookup(env, "PTINFER_TASK_QUEUE", "TASK_QUEUE_ENABLE")) {
    config.task_queue = parse_flag(*s);
  }
  if (auto s = lookup(env, "PTINFER_NUM_THREADS", "OMP_NUM_THREADS")) {
    config.num_threads = parse_int(*s, 1, 4096, "expected a thread count from 1 to 4096");
  }
  if (auto s = lookup(env, "PTINFER_LOG_DIR", "")) {
    if (s->value.empty()) invalid(*s, "expected a directory path");
    config.log_dir = s->value;
  } else {
    auto home = env("HOME");
    config.log_dir = (home && !home->empty() ? *home : std::string(".")) + "/.ptinfer/log";
  }
  return config;
}

}  // namespace ptinfer::runtime
