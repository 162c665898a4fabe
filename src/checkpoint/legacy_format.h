// The legacy torch.save format: PyTorch before 1.6, and later versions with
// _use_new_zipfile_serialization=False. The file is five pickles back to back, then raw storages:
//   magic number (0x1950a86a20f9469cfc6c), protocol version (1001), sys_info dict,
//   the saved object (storages as persistent ids, see pickle_reader.h),
//   the sorted list of storage keys,
//   then for each key in that list: int64 element count + the storage's little-endian bytes.
// Internal to the checkpoint reader.
#pragma once

#include <cstddef>
#include <string>

#include "checkpoint/mapped_file.h"
#include "checkpoint/pickle_reader.h"

namespace ptinfer::checkpoint {

// True when `head` (the first `size` bytes of a file) starts with the legacy magic pickle, or
// with at least its first 4 bytes (a file cut short, which the reader reports as truncated).
bool is_legacy_format(const void* head, size_t size);

// Reads the saved object of the legacy-format file `path` (mapped as `file`) with every storage
// filled; the file's pages are released as their storages are copied. Each storage is allocated
// only after its size is checked against the bytes left in the file (all storages together never
// exceed the file), then read straight into the tensor. Throws Error(kCorruptData) naming `path`
// and the part (protocol, sys_info, pickle, storage keys, storage '<key>') when the file is
// truncated, sizes disagree or a key is missing or repeated; Error(kUnsupported) for big-endian
// files, other protocol versions and globals outside the allow-list.
Unpickled read_legacy_checkpoint(const std::string& path, const MappedFile& file);

}  // namespace ptinfer::checkpoint
