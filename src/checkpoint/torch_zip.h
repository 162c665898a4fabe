// The zip container torch.save writes since PyTorch 1.6, read with LibTorch's own
// caffe2::serialize::PyTorchStreamReader (which strips the archive-name folder every record
// sits in). Internal to the checkpoint reader.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <memory>
#include <string>
#include <unordered_map>

#include "checkpoint/zip_directory.h"

namespace ptinfer::checkpoint {
class MappedFile;
}

namespace caffe2::serialize {
class PyTorchStreamReader;
}

namespace ptinfer::checkpoint {

class TorchZip {
 public:
  // Opens `path`. Throws Error(kNotFound) when it does not exist or is not a regular file,
  // Error(kUnsupported) for the legacy (pre-1.6) pickle format and for big-endian archives,
  // Error(kCorruptData) for empty, non-zip and truncated files.
  explicit TorchZip(const std::string& path);
  ~TorchZip();
  TorchZip(const TorchZip&) = delete;
  TorchZip& operator=(const TorchZip&) = delete;

  // The bytes of record `name` (e.g. "data.pkl"). Throws Error(kCorruptData) naming the
  // record when it is missing or unreadable, compressed (torch.save never compresses, so this
  // refuses zip bombs before anything is inflated) or declared larger than the file.
  std::string read_record(const std::string& name);

  // Record data/<key> as a 1-D tensor of `numel` elements of `dtype`, without copying the
  // bytes: a tensor over the file's pages (a copy-on-write map, so writing to it never changes
  // the file; the map lives as long as any tensor from it), or, for a record whose data is not
  // aligned to its element size (torch.save aligns to 64 bytes) or a file that cannot be
  // mapped, a buffer LibTorch read it into.
  // Throws Error(kCorruptData) when the record is missing, shorter than that or runs past the
  // end of the file. As with any memory map (safetensors, torch.load(mmap=True)), the file must
  // not be truncated in place while such tensors are read: a page past the new end raises
  // SIGBUS. The Engine copies them into its model at once and drops them.
  at::Tensor read_storage(const std::string& key, c10::ScalarType dtype, int64_t numel);

  const std::string& path() const { return path_; }

  // True for a torch.jit.save archive (TorchScript): it has a constants.pkl record or code/
  // records beside data.pkl, which torch.save never writes.
  bool is_torchscript() const;

 private:
  // Checks `name` (without the archive folder) against the central directory before LibTorch
  // allocates it.
  void check_record(const std::string& name) const;

  std::string path_;
  std::unordered_map<std::string, ZipEntry> directory_;  // keyed without the archive folder
  uint64_t file_size_ = 0;
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader_;
  std::shared_ptr<const MappedFile> map_;  // the whole file, for read_storage
};

}  // namespace ptinfer::checkpoint
