// Logging through spdlog: one log file per process in the configured directory, mirrored to
// stdout when asked, filtered by the configured level. Errors that stop a run are printed to
// stderr by the CLI whatever the level (see cli/main.cpp), so they always reach the user.
#pragma once

#include <string>

#include "runtime/env_config.h"

namespace ptinfer::runtime {

// Sets up the default logger. Creates config.log_dir when missing; the file is named
// ptinfer-<YYYYmmdd-HHMMSS>-<pid>.log. Throws Error(kInvalidArgument) naming PTINFER_LOG_DIR when
// the directory cannot be created or written. Returns the log file's path.
std::string init_logging(const RuntimeConfig& config);

// A logger to the console only (level warning), for code that runs before init_logging and
// for tests. Safe to call more than once.
void init_console_logging();

}  // namespace ptinfer::runtime
