// MappedMemory's huge-page mapping and copy_releasing_source.
#include "fastpath/mapped_memory.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace ptinfer::fastpath {
namespace {

TEST(MappedMemory, HugePageMappingIsAlignedZeroedAndWritable) {
  EXPECT_EQ(MappedMemory::huge_pages(0), nullptr);
  const size_t bytes = 3 * MappedMemory::kHugePageBytes + 4097;
  auto m = MappedMemory::huge_pages(bytes);
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->size(), bytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m->data()) % MappedMemory::kHugePageBytes, 0u);
  for (size_t i = 0; i < bytes; i += 4096) EXPECT_EQ(m->data()[i], 0) << i;
  EXPECT_EQ(m->data()[bytes - 1], 0);
  std::memset(m->data(), 0x5a, bytes);  // every byte asked for is ours to write
  EXPECT_EQ(m->data()[bytes - 1], 0x5a);
}

// Sizes below one page, across piece boundaries and not multiples of anything, from a heap
// block at an odd offset: the copy is exact, and the source block can still be freed.
TEST(MappedMemory, CopyReleasingSourceCopiesEveryByte) {
  for (size_t n : {size_t{1}, size_t{4095}, size_t{70001},
                   2 * MappedMemory::kHugePageBytes + 12345}) {
    auto* block = static_cast<uint8_t*>(std::malloc(n + 3));
    ASSERT_NE(block, nullptr);
    uint8_t* src = block + 3;
    std::vector<uint8_t> expected(n);
    for (size_t i = 0; i < n; ++i) expected[i] = src[i] = static_cast<uint8_t>(i * 7 + i / 4093);
    auto dst = MappedMemory::huge_pages(n);
    ASSERT_NE(dst, nullptr);
    copy_releasing_source(dst->data(), src, n);
    EXPECT_EQ(std::memcmp(dst->data(), expected.data(), n), 0) << n;
    std::free(block);
  }
}

}  // namespace
}  // namespace ptinfer::fastpath
