#include "runtime/logging.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <memory>
#include <vector>

#include "common/error.h"

namespace ptinfer::runtime {
namespace {

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarning:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kNone:
      return spdlog::level::off;
  }
  return spdlog::level::info;
}

}  // namespace

std::string init_logging(const RuntimeConfig& config) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(config.log_dir, ec);
  if (ec || !fs::is_directory(config.log_dir)) {
    throw Error(ErrorKind::kInvalidArgument, "PTINFER_LOG_DIR: cannot create log directory '" +
                                                 config.log_dir + "': " + ec.message());
  }
  char stamp[32];
  std::time_t now = std::time(nullptr);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  std::string path = config.log_dir + "/ptinfer-" + stamp + "-" + std::to_string(getpid()) + ".log";

  std::vector<spdlog::sink_ptr> sinks;
  try {
    sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, true));
  } catch (const spdlog::spdlog_ex& e) {
    throw Error(ErrorKind::kInvalidArgument,
                "PTINFER_LOG_DIR: cannot write log file '" + path + "': " + e.what());
  }
  if (config.log_stdout) sinks.push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  auto logger = std::make_shared<spdlog::logger>("ptinfer", sinks.begin(), sinks.end());
  logger->set_level(to_spdlog(config.log_level));
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] [pid %P] %v");
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return path;
}

void init_console_logging() {
  auto logger = std::make_shared<spdlog::logger>("ptinfer",
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  logger->set_level(spdlog::level::warn);
  spdlog::set_default_logger(logger);
}

}  // namespace ptinfer::runtime
