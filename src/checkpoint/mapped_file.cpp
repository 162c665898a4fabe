#include "checkpoint/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.h"

namespace ptinfer::checkpoint {

MappedFile::MappedFile(const std::string& path, Access access) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(ErrorKind::kNotFound,
                path + ": " + (errno == ENOENT ? "no such file" : std::strerror(errno)));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorKind::kNotFound, path + ": not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    const int protection = access == Access::kCopyOnWrite ? PROT_READ | PROT_WRITE : PROT_READ;
    data_ = ::mmap(nullptr, size_, protection, MAP_PRIVATE, fd, 0);
    if (data_ == MAP_FAILED) {
      data_ = nullptr;
      ::close(fd);
      throw Error(ErrorKind::kNotFound, path + ": cannot map: " + std::strerror(errno));
    }
    ::madvise(data_, size_, MADV_SEQUENTIAL);  // read once, front to back
  }
  ::close(fd);
}

void MappedFile::release(size_t offset, size_t size) const {
  if (data_ == nullptr || offset >= size_) return;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t begin = (offset + page - 1) / page * page;
  size_t end = std::min(offset + size, size_) / page * page;
  if (end > begin) ::madvise(static_cast<uint8_t*>(data_) + begin, end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace ptinfer::checkpoint
