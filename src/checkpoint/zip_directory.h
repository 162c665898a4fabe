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
};

// Reads the central directory (zip64 included) of the `file_size`-byte file at `path`, keyed by
// the full entry name. Throws Error(kCorruptData) naming `path` when the end-of-directory record
// is missing or the directory runs past the file.
std::unordered_map<std::string, ZipEntry> read_zip_directory(const std::string& path,
                                                             uint64_t file_size);

}  // namespace ptinfer::checkpoint
