#include "app/labels.h"


#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/scoped_temp_dir.h"

namespace ptinfer::app {
namespace {

// Writes `text` to <scratch>/name, in one folder removed when the test program exits.
std::string write_temp(const std::string& name, const std::string& text) {
  static const ScopedTempDir scratch("ptinfer_labels_");
  std::ofstream(scratch.file(name)) << text;
  return scratch.file(name);
}

std::string error_of(const std::string& path, ErrorKind kind) {
  try {
    read_labels(path);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error for " << path;
  return "";
}

TEST(Labels, ReadsTorchServeIndexToNameInIndexOrder) {
  std::string p = write_temp("a.json", R"({"1": "dog", "0": "cat", "2": ["n0123", "eel"]})");
  EXPECT_EQ(read_labels(p), (std::vector<std::string>{"cat", "dog", "eel"}));
}

TEST(Labels, ReadsOneNameALine) {
  std::string p = write_temp("b.txt", "cat\r\ndog\neel\n\n");
  EXPECT_EQ(read_labels(p), (std::vector<std::string>{"cat", "dog", "eel"}));
}

TEST(Labels, BadFilesNameTheFileAndKey) {
  std::string m = error_of(write_temp("c.json", R"({"0": "a", "two": "b"})"), ErrorKind::kCorruptData);
  EXPECT_NE(m.find("key 'two'"), std::string::npos) << m;
  m = error_of(write_temp("d.json", R"({"0": "a", "2": "c"})"), ErrorKind::kCorruptData);
  EXPECT_NE(m.find("class index 1 has no entry"), std::string::npos) << m;
  m = error_of(write_temp("e.json", R"({"0": 5})"), ErrorKind::kCorruptData);
  EXPECT_NE(m.find("key '0' has no class name"), std::string::npos) << m;
  std::string bad = write_temp("f.json", "{\"0\": ");
  m = error_of(bad, ErrorKind::kCorruptData);
  EXPECT_NE(m.find(bad), std::string::npos) << m;
  error_of(write_temp("g.txt", "\n\n"), ErrorKind::kCorruptData);
  error_of("/nonexistent/labels.json", ErrorKind::kNotFound);
}

}  // namespace
}  // namespace ptinfer::app
