#include "runtime/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/scoped_temp_dir.h"

namespace ptinfer::runtime {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A fresh path <scratch>/name, in one folder removed when the test program exits.
std::string temp_dir(const std::string& name) {
  static const ScopedTempDir scratch("ptinfer_logging_");
  std::filesystem::remove_all(scratch.file(name));
  return scratch.file(name);
}

TEST(Logging, WritesAFilePerProcessFilteredByLevel) {
  RuntimeConfig config;
  config.log_dir = temp_dir("level") + "/nested";
  config.log_level = LogLevel::kWarning;
  std::string path = init_logging(config);
  EXPECT_EQ(path.rfind(config.log_dir, 0), 0u);
  spdlog::info("an info line");
  spdlog::warn("a warning line");
  spdlog::default_logger()->flush();
  std::string text = read_file(path);
  EXPECT_EQ(text.find("an info line"), std::string::npos) << text;
  EXPECT_NE(text.find("a warning line"), std::string::npos) << text;
  init_console_logging();
}

TEST(Logging, MirrorsToStdoutWhenAsked) {
  RuntimeConfig config;
  config.log_dir = temp_dir("stdout");
  config.log_stdout = true;
  config.log_level = LogLevel::kDebug;
  testing::internal::CaptureStdout();
  std::string path = init_logging(config);
  spdlog::debug("mirrored line");
  spdlog::default_logger()->flush();
  std::string out = testing::internal::GetCapturedStdout();
  init_console_logging();
  EXPECT_NE(out.find("mirrored line"), std::string::npos) << out;
  EXPECT_NE(read_file(path).find("mirrored line"), std::string::npos);
}

TEST(Logging, UnwritableDirectoryIsAnErrorNamingTheVariable) {
  RuntimeConfig config;
  std::string file = temp_dir("file");
  std::ofstream(file) << "not a directory";
  config.log_dir = file + "/sub";
  try {
    init_logging(config);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("PTINFER_LOG_DIR"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ptinfer::runtime
