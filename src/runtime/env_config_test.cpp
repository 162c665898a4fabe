#include "runtime/env_config.h"

#include <gtest/gtest.h>

#include <map>

#include "common/error.h"

namespace ptinfer::runtime {
namespace {

EnvLookup env_of(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

// Runs read_runtime_config and returns the error message it throws ("" when none).
std::string error_of(std::map<std::string, std::string> values) {
  try {
    read_runtime_config(env_of(std::move(values)));
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    return e.what();
  }
  return "";
}

TEST(EnvConfig, DefaultsWhenNothingIsSet) {
  RuntimeConfig c = read_runtime_config(env_of({{"HOME", "/home/u"}}));
  EXPECT_FALSE(c.device_id.has_value());
  EXPECT_FALSE(c.log_stdout);
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_TRUE(c.task_queue);
  EXPECT_EQ(c.log_dir, "/home/u/.ptinfer/log");
  EXPECT_FALSE(c.num_threads.has_value());
}

TEST(EnvConfig, GuideNamesAreRead) {
  RuntimeConfig c = read_runtime_config(env_of({{"ASCEND_DEVICE_ID", "3"},
                                                {"ASCEND_SLOG_PRINT_TO_STDOUT", "1"},
                                                {"ASCEND_GLOBAL_LOG_LEVEL", "0"},
                                                {"TASK_QUEUE_ENABLE", "0"},
                                                {"OMP_NUM_THREADS", "7"}}));
  EXPECT_EQ(c.device_id, 3);
  EXPECT_TRUE(c.log_stdout);
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_FALSE(c.task_queue);
  EXPECT_EQ(c.num_threads, 7);
}

TEST(EnvConfig, PtinferNamesWinOverGuideNames) {
  RuntimeConfig c = read_runtime_config(env_of({{"ASCEND_DEVICE_ID", "3"},
                                                {"PTINFER_DEVICE_ID", "1"},
                                                {"ASCEND_GLOBAL_LOG_LEVEL", "0"},
                                                {"PTINFER_LOG_LEVEL", "3"},
                                                {"OMP_NUM_THREADS", "7"},
                                                {"PTINFER_NUM_THREADS", "2"},
                                                {"PTINFER_LOG_DIR", "/tmp/x"}}));
  EXPECT_EQ(c.device_id, 1);
  EXPECT_EQ(c.log_level, LogLevel::kError);
  EXPECT_EQ(c.num_threads, 2);
  EXPECT_EQ(c.log_dir, "/tmp/x");
}

TEST(EnvConfig, InvalidValuesNameVariableValueAndAllowed) {
  std::string m = error_of({{"PTINFER_LOG_LEVEL", "5"}});
  EXPECT_NE(m.find("PTINFER_LOG_LEVEL"), std::string::npos) << m;
  EXPECT_NE(m.find("'5'"), std::string::npos) << m;
  EXPECT_NE(m.find("4 (none)"), std::string::npos) << m;

  m = error_of({{"ASCEND_GLOBAL_LOG_LEVEL", "debug"}});
  EXPECT_NE(m.find("ASCEND_GLOBAL_LOG_LEVEL='debug'"), std::string::npos) << m;

  m = error_of({{"TASK_QUEUE_ENABLE", "yes"}});
  EXPECT_NE(m.find("TASK_QUEUE_ENABLE='yes'"), std::string::npos) << m;
  EXPECT_NE(m.find("0 and 1"), std::string::npos) << m;

  EXPECT_NE(error_of({{"PTINFER_LOG_STDOUT", "2"}}).find("PTINFER_LOG_STDOUT"), std::string::npos);
  EXPECT_NE(error_of({{"PTINFER_DEVICE_ID", "-1"}}).find("PTINFER_DEVICE_ID='-1'"),
            std::string::npos);
  EXPECT_NE(error_of({{"ASCEND_DEVICE_ID", " 1"}}).find("ASCEND_DEVICE_ID"), std::string::npos);
  EXPECT_NE(error_of({{"PTINFER_NUM_THREADS", "0"}}).find("PTINFER_NUM_THREADS='0'"),
            std::string::npos);
  EXPECT_NE(error_of({{"OMP_NUM_THREADS", "4x"}}).find("OMP_NUM_THREADS='4x'"), std::string::npos);
  EXPECT_NE(error_of({{"PTINFER_LOG_DIR", ""}}).find("PTINFER_LOG_DIR"), std::string::npos);
  EXPECT_NE(error_of({{"PTINFER_DEVICE_ID", "99999999999"}}).find("PTINFER_DEVICE_ID"),
            std::string::npos);
}

TEST(EnvConfig, AnInvalidGuideValueIsIgnoredWhenThePtinferNameIsSet) {
  // The PTINFER_ name wins, so the guide's variable is not consulted at all.
  RuntimeConfig c =
      read_runtime_config(env_of({{"ASCEND_GLOBAL_LOG_LEVEL", "9"}, {"PTINFER_LOG_LEVEL", "2"}}));
  EXPECT_EQ(c.log_level, LogLevel::kWarning);
}

}  // namespace
}  // namespace ptinfer::runtime
