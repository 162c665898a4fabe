// The safetensors format (huggingface/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [...],
// "data_offsets": [begin, end]}, ...} (padded with spaces), then the tensors' little-endian
// bytes, offsets relative to the end of the header. No code, no pickle.
#pragma once

#include <cstddef>
#include <map>
#include <string>

#include "checkpoint/checkpoint.h"

namespace ptinfer::checkpoint {

// True when the first `size` bytes of a file look like a safetensors header (a plausible
// length, then '{'); a length past the end of the file is for read_safetensors to report.
bool is_safetensors(const void* head, size_t size, uint64_t file_size);

// Reads every tensor of the safetensors file `path`, in data order, into memory it owns; fills
// `metadata` with the "__metadata__" strings. Throws Error(kCorruptData) naming the file and the
// tensor for a header longer than the file or 100 MB, bad JSON, an unknown dtype, a shape whose
// size disagrees with its offsets, offsets outside the data or overlapping; Error(kNotFound)
// when the file does not exist.
StateDict read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata);

// Writes `sd` to `path` as safetensors (each tensor contiguous, little-endian, in `sd`'s order)
// with `metadata` as "__metadata__". Throws Error(kInvalidArgument) for a duplicate name or a
// dtype safetensors lacks (complex), Error(kNotFound) when `path` cannot be written.
void write_safetensors(const StateDict& sd, const std::map<std::string, std::string>& metadata,
                       const std::string& path);

}  // namespace ptinfer::checkpoint
