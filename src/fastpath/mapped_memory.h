// Memory for packed weights in transparent huge pages, and a copy that hands its source's pages
// back to the kernel as it goes.
//
// Why huge pages: at small batches every forward streams all of a model's packed weights
// (resnet50: about 100 MB fp32, more with Winograd's copies) through the TLB; with 2 MiB pages
// resnet50 ran about 3% faster at batch 1 (docs/perf-log.md). Faulting huge pages in costs
// more than small ones on the machine we measured (a VM), so OneDnnResNet moves its weights
// into them only after the first forward (onednn_resnet.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace ptinfer::fastpath {

class MappedMemory {
 public:
  static constexpr size_t kHugePageBytes = size_t{2} << 20;

  // `bytes` (> 0) of zeroed anonymous memory (mmap) aligned to kHugePageBytes and advised
  // MADV_HUGEPAGE (the kernel may still back it with small pages: transparent huge pages off,
  // or none free). nullptr when bytes is 0 or the kernel refuses the mapping. Unmapped when
  // destroyed.
  static std::unique_ptr<MappedMemory> huge_pages(size_t bytes);

  ~MappedMemory();
  MappedMemory(const MappedMemory&) = delete;
  MappedMemory& operator=(const MappedMemory&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }  // as asked for; the mapping is rounded up to 2 MiB

 private:
  MappedMemory(uint8_t* data, size_t size, size_t mapped)
      : data_(data), size_(size), mapped_(mapped) {}
  uint8_t* data_;
  size_t size_, mapped_;
};

// Copies `n` bytes from `src` to `dst` (not overlapping) in 2 MiB pieces and, after each piece,
// hands the source's whole pages in it back to the kernel (MADV_DONTNEED): the process's memory
// grows by at most about one piece over the copy, not by `n`. The source reads as zeros
// afterwards; its owner frees it next (heap memory stays valid to free: the allocator's own
// bookkeeping before `src` is on a page that is not released).
void copy_releasing_source(uint8_t* dst, uint8_t* src, size_t n);

}  // namespace ptinfer::fastpath
