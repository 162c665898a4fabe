// A memory map of a whole file (POSIX mmap), so the legacy and safetensors readers parse and copy
// straight from the page cache with no intermediate buffer, and the zip reader's storages are
// tensors over the file's pages without a copy. Internal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ptinfer::checkpoint {

class MappedFile {
 public:
  // kReadOnly: writing through data() faults. kCopyOnWrite: the pages may be written; a written
  // page becomes this process's private copy and the file never changes (for tensors handed to
  // code that may modify them in place).
  enum class Access { kReadOnly, kCopyOnWrite };

  // Maps `path`. Throws Error(kNotFound) when it does not exist, is not a regular file or cannot
  // be opened; an empty file maps to size() == 0.
  explicit MappedFile(const std::string& path, Access access = Access::kReadOnly);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(data_); }
  // Drops the pages wholly inside [offset, offset + size) from this process's memory once they
  // were copied out (they are read back from the file if touched again), so copying a file's
  // storages into tensors does not hold the file's bytes resident as well.
  void release(size_t offset, size_t size) const;
  size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ptinfer::checkpoint
