// The central directory of a zip archive: for each entry, how it is stored and how large it
// claims to be. TorchZip checks these claims before LibTorch's reader allocates a record, since
// PyTorchStreamReader::getRecord would otherwise inflate a compressed entry (a zip bomb) or
// allocate whatever size the directory declares. Internal to the checkpoint reader.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace ptinfer::checkpoint {

struct ZipEntry {
  uint16_t method = 0;  // 0: stored, 8: deflated, ...
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

// The central directory: every entry by its full name, and the name of the first entry in the
// directory's order (LibTorch's reader takes the archive's folder from it; empty when the
// archive has no entries).
struct ZipDirectory {
  std::unordered_map<std::string, ZipEntry> entries;
  std::string first_name;
};

// Reads the central directory (zip64 included) of the `file_size`-byte file at `path`. Throws
// Error(kCorruptData) naming `path` when the end-of-directory record is missing or the
// directory runs past the file.
ZipDirectory read_zip_directory(const std::string& path, uint64_t file_size);

// The bytes of the stored (uncompressed) entry `name` described by `entry`, read through its
// local header. Throws Error(kCorruptData) naming `path` and `name` when the entry is
// compressed, larger than `max_size`, its local header is not one, or its data runs past the
// end of the file.
std::string read_stored_entry(const std::string& path, uint64_t file_size,
                              const std::string& name, const ZipEntry& entry, uint64_t max_size);

}  // namespace ptinfer::checkpoint
