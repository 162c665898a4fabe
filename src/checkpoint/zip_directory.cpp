#include "checkpoint/zip_directory.h"

#include <algorithm>
#include <fstream>
#include <vector>

#include "common/error.h"

namespace ptinfer::checkpoint {
namespace {

constexpr uint32_t kEndOfDirectory = 0x06054b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr uint32_t kZip64EndOfDirectory = 0x06064b50;
constexpr uint32_t kDirectoryEntry = 0x02014b50;
constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kEndSize = 22;
constexpr size_t kEntrySize = 46;
constexpr uint32_t kSaturated32 = 0xffffffff;

uint64_t le(const unsigned char* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

class FileReader {
 public:
  FileReader(const std::string& path, uint64_t size)
      : path_(path), size_(size), in_(path, std::ios::binary) {
    if (!in_) throw Error(ErrorKind::kNotFound, path + ": cannot open");
  }
  // `n` bytes at `offset`; the caller bounds n (directory sizes are checked against the file).
  std::vector<unsigned char> read(uint64_t offset, uint64_t n, const char* what) {
    if (offset > size_ || n > size_ - offset)
      corrupt(std::string(what) + " runs past the end of the file");
    std::vector<unsigned char> buf(n);
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(n));
    if (!in_) corrupt(std::string("cannot read ") + what);
    return buf;
  }
  [[noreturn]] void corrupt(const std::string& what) const {
    throw Error(ErrorKind::kCorruptData, path_ + ": zip directory: " + what);
  }

 private:
  const std::string& path_;
  uint64_t size_;
  std::ifstream in_;
};

}  // namespace

ZipDirectory read_zip_directory(const std::string& path, uint64_t file_size) {
  FileReader file(path, file_size);
  // The end record sits in the last 22 + 65535 (maximum comment) bytes.
  const uint64_t tail_size = std::min<uint64_t>(file_size, kEndSize + 0xffff);
  const uint64_t tail_offset = file_size - tail_size;
  std::vector<unsigned char> tail = file.read(tail_offset, tail_size, "end record");
  int64_t end = -1;
  for (int64_t i = static_cast<int64_t>(tail_size) - static_cast<int64_t>(kEndSize); i >= 0; --i) {
    if (le(&tail[i], 4) == kEndOfDirectory) {
      end = i;
      break;
    }
  }
  if (end < 0) file.corrupt("no end-of-central-directory record");
  const unsigned char* e = &tail[end];
  uint64_t count = le(e + 10, 2);
  uint64_t dir_size = le(e + 12, 4);
  uint64_t dir_offset = le(e + 16, 4);
  const uint64_t end_offset = tail_offset + end;
  if (end_offset >= 20 &&
      (count == 0xffff || dir_size == kSaturated32 || dir_offset == kSaturated32)) {
    std::vector<unsigned char> loc = file.read(end_offset - 20, 20, "zip64 locator");
    if (le(loc.data(), 4) == kZip64Locator) {
      std::vector<unsigned char> z = file.read(le(&loc[8], 8), 56, "zip64 end record");
      if (le(z.data(), 4) != kZip64EndOfDirectory) file.corrupt("bad zip64 end record");
      count = le(&z[32], 8);
      dir_size = le(&z[40], 8);
      dir_offset = le(&z[48], 8);
    }
  }
  // Each entry takes at least 46 bytes, so the count is bounded by the directory's size.
  if (count > dir_size / kEntrySize)
    file.corrupt(std::to_string(count) + " entries do not fit in the directory");
  std::vector<unsigned char> dir = file.read(dir_offset, dir_size, "central directory");
  ZipDirectory directory;
  size_t pos = 0;
  for (uint64_t i = 0; i < count; ++i) {
    if (dir.size() - pos < kEntrySize || le(&dir[pos], 4) != kDirectoryEntry) {
      file.corrupt("bad central directory entry " + std::to_string(i));
    }
    const unsigned char* h = &dir[pos];
    ZipEntry entry;
    entry.method = static_cast<uint16_t>(le(h + 10, 2));
    entry.compressed_size = le(h + 20, 4);
    entry.uncompressed_size = le(h + 24, 4);
    entry.local_header_offset = le(h + 42, 4);
    const size_t name_len = le(h + 28, 2), extra_len = le(h + 30, 2), comment_len = le(h + 32, 2);
    if (dir.size() - pos - kEntrySize < name_len + extra_len + comment_len) {
      file.corrupt("central directory entry " + std::to_string(i) + " runs past the directory");
    }
    std::string name(reinterpret_cast<const char*>(h + kEntrySize), name_len);
    // Zip64 extra field (id 1): the 64-bit sizes and offset, present (in this order) for each
    // saturated 32-bit field.
    const unsigned char* x = h + kEntrySize + name_len;
    for (size_t off = 0; off + 4 <= extra_len;) {
      const uint64_t id = le(x + off, 2), len = le(x + off + 2, 2);
      if (off + 4 + len > extra_len) break;
      if (id == 1) {
        size_t f = off + 4;
        if (entry.uncompressed_size == kSaturated32 && f + 8 <= off + 4 + len) {
          entry.uncompressed_size = le(x + f, 8);
          f += 8;
        }
        if (entry.compressed_size == kSaturated32 && f + 8 <= off + 4 + len) {
          entry.compressed_size = le(x + f, 8);
          f += 8;
        }
        if (entry.local_header_offset == kSaturated32 && f + 8 <= off + 4 + len) {
          entry.local_header_offset = le(x + f, 8);
        }
      }
      off += 4 + len;
    }
    if (i == 0) directory.first_name = name;
    directory.entries[name] = entry;
    pos += kEntrySize + name_len + extra_len + comment_len;
  }
  return directory;
}

std::string read_stored_entry(const std::string& path, uint64_t file_size,
                              const std::string& name, const ZipEntry& entry, uint64_t max_size) {
  FileReader file(path, file_size);
  const std::string what = "entry '" + name + "'";
  if (entry.method != 0) {
    file.corrupt(what + " is compressed (zip method " + std::to_string(entry.method) + ")");
  }
  if (entry.uncompressed_size > max_size || entry.compressed_size != entry.uncompressed_size) {
    file.corrupt(what + " declares " + std::to_string(entry.uncompressed_size) +
                 " bytes, more than the " + std::to_string(max_size) + " it can hold");
  }
  std::vector<unsigned char> local =
      file.read(entry.local_header_offset, kLocalHeaderSize, (what + "'s local header").c_str());
  if (le(local.data(), 4) != kLocalHeader) file.corrupt(what + ": bad local header");
  const uint64_t data = entry.local_header_offset + kLocalHeaderSize + le(&local[26], 2) +
                        le(&local[28], 2);
  std::vector<unsigned char> bytes = file.read(data, entry.uncompressed_size, (what + "'s data").c_str());
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace ptinfer::checkpoint
