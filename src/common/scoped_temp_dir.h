// ScopedTempDir: a fresh folder under the system temp dir ($TMPDIR, else /tmp), removed with
// everything in it when the object goes out of scope. For tests, so that a run leaves nothing
// behind, whether its assertions pass or fail.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace ptinfer {

class ScopedTempDir {
 public:
  // Creates <temp dir>/<prefix>XXXXXX (mkdtemp: unique, mode 0700). Throws std::runtime_error
  // naming the pattern when it cannot be created.
  explicit ScopedTempDir(const std::string& prefix = "ptinfer_test_") {
    std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("cannot create a temporary folder " + pattern + ": " +
                               std::generic_category().message(errno));
    }
    path_ = pattern;
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace ptinfer
