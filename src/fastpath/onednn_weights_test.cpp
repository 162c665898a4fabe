// ConvWeights: packed copies per layout, and reading the weights back once the fp32 tensor is
// released (what a plan built after the first one reorders from).
#include "fastpath/onednn_weights.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"

namespace ptinfer::fastpath {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

FoldedConv random_conv(int64_t out, int64_t in, int64_t k, int64_t groups) {
  torch::manual_seed(3);
  FoldedConv c;
  c.weight = torch::randn({out, in / groups, k, k});
  c.bias = torch::randn({out});
  c.groups = groups;
  c.padding = k / 2;
  return c;
}

// The weights of `mem` (any layout and data type) as a fp32 tensor in OIHW / GOIHW order.
torch::Tensor read_back(memory mem, const memory::dims& dims, int64_t groups,
                        const dnnl::engine& eng, dnnl::stream& strm) {
  memory out({dims, memory::data_type::f32, groups == 1 ? tag::oihw : tag::goihw}, eng);
  dnnl::reorder(mem, out).execute(strm, mem, out);
  strm.wait();
  std::vector<int64_t> sizes(dims.begin(), dims.end());
  return torch::from_blob(out.get_data_handle(), sizes, torch::kFloat32).clone();
}

class ConvWeightsTest : public ::testing::TestWithParam<int64_t> {
 protected:
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
};

TEST_P(ConvWeightsTest, ReleasedWeightsAreReadBackExactlyFromABlockedCopy) {
  const int64_t groups = GetParam();
  ConvWeights w = ConvWeights::make(random_conv(32, 32, 3, groups), eng);
  const memory::dims dims = w.dims();
  // GOIHW with groups: the same memory as the [out, in / groups, k, k] tensor.
  const torch::Tensor original =
      w.folded.weight.clone().reshape(std::vector<int64_t>(dims.begin(), dims.end()));
  ASSERT_EQ(dims.size(), groups == 1 ? 4u : 5u);

  // Nothing packed yet: the fp32 weights are the only copy and stay.
  EXPECT_FALSE(w.release_folded());
  EXPECT_TRUE(w.folded.weight.defined());

  const memory::desc blocked(dims, memory::data_type::f32,
                             groups == 1 ? tag::OIhw16i16o : tag::gOIhw16i16o);
  memory first = w.packed_for(blocked, eng, strm);
  EXPECT_TRUE(torch::equal(read_back(first, dims, groups, eng, strm), original));
  EXPECT_EQ(w.packed_for(blocked, eng, strm).get_data_handle(), first.get_data_handle())
      << "a layout is packed once and shared";

  ASSERT_TRUE(w.release_folded());
  EXPECT_FALSE(w.folded.weight.defined());
  EXPECT_TRUE(torch::equal(read_back(w.plain(eng, strm), dims, groups, eng, strm), original));

  // A layout asked for after the release: fp32 in another blocking, and bf16.
  const memory::desc other(dims, memory::data_type::f32,
                           groups == 1 ? tag::OIhw8i8o : tag::gOIhw8i8o);
  EXPECT_TRUE(
      torch::equal(read_back(w.packed_for(other, eng, strm), dims, groups, eng, strm), original));
  const memory::desc bf16(dims, memory::data_type::bf16, groups == 1 ? tag::oihw : tag::goihw);
  const torch::Tensor widened = read_back(w.packed_for(bf16, eng, strm), dims, groups, eng, strm);
  EXPECT_TRUE(torch::equal(widened, original.to(torch::kBFloat16).to(torch::kFloat32)));
  EXPECT_EQ(w.packed.size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Groups, ConvWeightsTest, ::testing::Values(1, 4));

// Moved copies keep their values and their memory objects (now pointing into the new memory);
// a layout packed afterwards is on the heap again, and only it moves next time.
TEST(ConvWeights, MoveIntoKeepsValuesAndMemoryObjects) {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  ConvWeights w = ConvWeights::make(random_conv(32, 16, 3, 1), eng);
  const memory::dims dims = w.dims();
  const torch::Tensor original = w.folded.weight.clone();
  EXPECT_EQ(w.bytes_to_move(), 0u);
  const memory::desc blocked(dims, memory::data_type::f32, tag::OIhw16i16o);
  const memory::desc bf16(dims, memory::data_type::bf16, tag::oihw);
  memory a = w.packed_for(blocked, eng, strm), b = w.packed_for(bf16, eng, strm);
  const size_t bytes = w.bytes_to_move();
  EXPECT_EQ(bytes, (blocked.get_size() + 63) / 64 * 64 + (bf16.get_size() + 63) / 64 * 64);

  auto region = MappedMemory::huge_pages(bytes);
  ASSERT_NE(region, nullptr);
  EXPECT_EQ(w.move_into(region->data()), region->data() + bytes);
  EXPECT_EQ(w.bytes_to_move(), 0u);
  EXPECT_EQ(a.get_data_handle(), region->data()) << "the same memory object, moved";
  EXPECT_EQ(w.packed_for(blocked, eng, strm).get_data_handle(), region->data());
  EXPECT_TRUE(torch::equal(read_back(a, dims, 1, eng, strm), original));
  EXPECT_TRUE(torch::equal(read_back(b, dims, 1, eng, strm),
                           original.to(torch::kBFloat16).to(torch::kFloat32)));

  ASSERT_TRUE(w.release_folded());
  const memory::desc other(dims, memory::data_type::f32, tag::OIhw8i8o);
  memory c = w.packed_for(other, eng, strm);  // reordered from the moved blocked copy
  EXPECT_TRUE(torch::equal(read_back(c, dims, 1, eng, strm), original));
  EXPECT_EQ(w.bytes_to_move(), (other.get_size() + 63) / 64 * 64);
}

TEST(ConvWeights, AWinogradOnlyCopyKeepsTheFp32Weights) {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  ConvWeights w = ConvWeights::make(random_conv(64, 64, 3, 1), eng);
  const memory::desc src({1, 64, 14, 14}, memory::data_type::f32, tag::any);
  const memory::desc dst({1, 64, 14, 14}, memory::data_type::f32, tag::any);
  const memory::desc wei(w.dims(), memory::data_type::f32, tag::any);
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_winograd, src, wei,
                                    w.bias.get_desc(), dst, {1, 1}, {1, 1}, {1, 1});
  // This machine family (AVX-512) has the kernel; without it there is no Winograd copy to test.
  dnnl::convolution_forward::primitive_desc pd(d, eng);
  w.packed_for(pd.weights_desc(), eng, strm);
  EXPECT_FALSE(w.release_folded());
  EXPECT_TRUE(w.folded.weight.defined());
  // Still usable for any later layout.
  const memory::desc blocked(w.dims(), memory::data_type::f32, tag::OIhw16i16o);
  w.packed_for(blocked, eng, strm);
  EXPECT_TRUE(w.release_folded());
}

// An fc's weights [O, I, 1, 1] packed under two dims [O, I] (the inner product's layout), read
// back exactly into OIHW once the fp32 tensor is released, and packed from there again under
// two dims and under four.
TEST(ConvWeights, AnFcsCopyUnderTwoDimsIsPackedAndReadBackExactly) {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  ConvWeights w = ConvWeights::make(random_conv(40, 64, 1, 1), eng);
  const torch::Tensor original = w.folded.weight.clone();
  const memory::dims matrix = {40, 64};
  const torch::Tensor as_matrix = original.reshape({40, 64});
  const auto read_matrix = [&](memory mem) {
    memory out({matrix, memory::data_type::f32, tag::ab}, eng);
    dnnl::reorder(mem, out).execute(strm, mem, out);
    strm.wait();
    return torch::from_blob(out.get_data_handle(), {40, 64}, torch::kFloat32).clone();
  };
  const memory::desc blocked(matrix, memory::data_type::f32, tag::BA16a64b);
  EXPECT_TRUE(torch::equal(read_matrix(w.packed_for(blocked, eng, strm)), as_matrix));
  ASSERT_TRUE(w.release_folded());
  EXPECT_FALSE(w.folded.weight.defined());
  EXPECT_TRUE(torch::equal(read_back(w.plain(eng, strm), w.dims(), 1, eng, strm), original));
  const memory::desc other(matrix, memory::data_type::f32, tag::BA16a16b);
  EXPECT_TRUE(torch::equal(read_matrix(w.packed_for(other, eng, strm)), as_matrix));
  const memory::desc four_dims(w.dims(), memory::data_type::f32, tag::OIhw16i16o);
  EXPECT_TRUE(torch::equal(read_back(w.packed_for(four_dims, eng, strm), w.dims(), 1, eng, strm),
                           original));
}

TEST(ConvWeights, PlainWithoutAnyCopyIsAnInternalError) {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  ConvWeights w = ConvWeights::make(random_conv(8, 8, 1, 1), eng);
  w.folded.weight = torch::Tensor();  // what a bug releasing too early would leave
  try {
    w.plain(eng, strm);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
  }
}

}  // namespace
}  // namespace ptinfer::fastpath
