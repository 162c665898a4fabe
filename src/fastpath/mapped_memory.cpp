#include "fastpath/mapped_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace ptinfer::fastpath {
namespace {

uintptr_t round_up(uintptr_t n, uintptr_t to) { return (n + to - 1) / to * to; }
uintptr_t round_down(uintptr_t n, uintptr_t to) { return n / to * to; }

}  // namespace

std::unique_ptr<MappedMemory> MappedMemory::huge_pages(size_t bytes) {
  if (bytes == 0) return nullptr;
  const size_t mapped = round_up(bytes, kHugePageBytes);
  // A 2 MiB-aligned start: map 2 MiB more, then unmap the unaligned head and the tail.
  const size_t reserve = mapped + kHugePageBytes;
  void* p = mmap(nullptr, reserve, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* start = static_cast<uint8_t*>(p);
  auto* aligned =
      reinterpret_cast<uint8_t*>(round_up(reinterpret_cast<uintptr_t>(start), kHugePageBytes));
  const size_t head = static_cast<size_t>(aligned - start), tail = reserve - head - mapped;
  if (head > 0) munmap(start, head);
  if (tail > 0) munmap(aligned + mapped, tail);
  // Advice only: without transparent huge pages the memory works with small ones.
  madvise(aligned, mapped, MADV_HUGEPAGE);
  return std::unique_ptr<MappedMemory>(new MappedMemory(aligned, bytes, mapped));
}

MappedMemory::~MappedMemory() { munmap(data_, mapped_); }

void copy_releasing_source(uint8_t* dst, uint8_t* src, size_t n) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(src);
  for (size_t done = 0; done < n;) {
    const size_t piece = std::min(MappedMemory::kHugePageBytes, n - done);
    std::memcpy(dst + done, src + done, piece);
    done += piece;
    // The whole pages inside [src, src + done): the first one only from the next page boundary.
    const uintptr_t from = round_up(begin, page), to = round_down(begin + done, page);
    const uintptr_t release_from = std::max(from, round_down(begin + done - piece, page));
    if (to > release_from) {
      madvise(reinterpret_cast<void*>(release_from), to - release_from, MADV_DONTNEED);
    }
  }
}

}  // namespace ptinfer::fastpath
