// The attention blocks' own behaviour: MultiheadSelfAttention against LibTorch's
// nn::MultiheadAttention (an independent implementation of the same arithmetic), its names and
// dropout; the shifted-window mask and padding. Parity with torchvision's Swin and ViT as whole
// models is zoo_parity_test.cpp.
#include "models/blocks/attention.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "common/error.h"

namespace ptinfer::models {
namespace {

double rel_l2(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).norm() / b.norm()).item<double>();
}

// A LibTorch nn::MultiheadAttention with `ours`'s weights.
torch::nn::MultiheadAttention libtorch_copy(MultiheadSelfAttention& ours) {
  torch::nn::MultiheadAttention ref(
      torch::nn::MultiheadAttentionOptions(ours->embed_dim(), ours->num_heads()));
  torch::NoGradGuard no_grad;
  ref->in_proj_weight.copy_(ours->in_proj_weight());
  ref->in_proj_bias.copy_(ours->in_proj_bias());
  ref->out_proj->weight.copy_(ours->out_proj()->weight);
  ref->out_proj->bias.copy_(ours->out_proj()->bias);
  return ref;
}

TEST(MultiheadSelfAttention, HasMultiheadAttentionsNamesInOrder) {
  MultiheadSelfAttention attn(12, 3, 0.0, Init::kTorchvision);
  std::vector<std::string> keys;
  for (const auto& p : attn->named_parameters()) keys.push_back(p.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"in_proj_weight", "in_proj_bias", "out_proj.weight",
                                            "out_proj.bias"}));
  EXPECT_EQ(attn->in_proj_weight().sizes().vec(), (std::vector<int64_t>{36, 12}));
  // nn.MultiheadAttention's _reset_parameters: zero biases, xavier_uniform_ in_proj_weight.
  EXPECT_TRUE(torch::all(attn->in_proj_bias() == 0).item<bool>());
  EXPECT_TRUE(torch::all(attn->out_proj()->bias == 0).item<bool>());
  EXPECT_LE(attn->in_proj_weight().abs().max().item<double>(), std::sqrt(6.0 / (12 + 36)));
}

// The explicit ops compute what LibTorch's fused module computes, for even and odd head
// counts, with and without autograd, and backward reaches every parameter.
TEST(MultiheadSelfAttention, MatchesLibTorchsMultiheadAttention) {
  for (int64_t heads : {1, 3, 4}) {
    torch::manual_seed(heads);
    MultiheadSelfAttention ours(24, heads, 0.0, Init::kTorchvision);
    {
      torch::NoGradGuard no_grad;  // non-zero biases, so that they take part
      ours->in_proj_bias().normal_(0.0, 0.5);
      ours->out_proj()->bias.normal_(0.0, 0.5);
    }
    auto ref = libtorch_copy(ours);
    const torch::Tensor x = torch::randn({2, 5, 24});  // [N, L, E]
    const torch::Tensor want =
        std::get<0>(ref->forward(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1)))
            .transpose(0, 1);
    ours->eval();
    {
      torch::NoGradGuard no_grad;
      EXPECT_LE(rel_l2(ours->forward(x), want), 1e-6) << heads << " heads, no grad";
    }
    ours->train();
    const torch::Tensor y = ours->forward(x);
    EXPECT_LE(rel_l2(y, want), 1e-6) << heads << " heads, train";
    y.square().sum().backward();
    for (const auto& p : ours->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
    }
  }
}

TEST(MultiheadSelfAttention, DropoutActsInTrainingOnly) {
  torch::manual_seed(0);
  MultiheadSelfAttention dropped(16, 2, 0.5, Init::kTorchvision);
  MultiheadSelfAttention plain(16, 2, 0.0, Init::kTorchvision);
  {
    torch::NoGradGuard no_grad;
    auto from = dropped->named_parameters();
    auto to = plain->named_parameters();
    for (size_t i = 0; i < from.size(); ++i) to[i].value().copy_(from[i].value());
  }
  const torch::Tensor x = torch::randn({2, 6, 16});
  torch::NoGradGuard no_grad;
  dropped->eval();
  plain->eval();
  EXPECT_TRUE(torch::equal(dropped->forward(x), plain->forward(x)));
  dropped->train();
  EXPECT_FALSE(torch::allclose(dropped->forward(x), plain->forward(x)));
}

TEST(MultiheadSelfAttention, RejectsBadOptionsAndInputs) {
  EXPECT_THROW(MultiheadSelfAttention(10, 3, 0.0, Init::kSkip), Error);
  EXPECT_THROW(MultiheadSelfAttention(12, 0, 0.0, Init::kSkip), Error);
  EXPECT_THROW(MultiheadSelfAttention(12, 3, 1.5, Init::kSkip), Error);
  MultiheadSelfAttention attn(12, 3, 0.0, Init::kSkip);
  try {
    attn->forward(torch::zeros({2, 5, 8}));
    FAIL() << "a [2, 5, 8] input was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("[2, 5, 8]"), std::string::npos) << e.what();
  }
}

ShiftedWindowAttention make_window_attention(SwinVersion version, int64_t shift) {
  ShiftedWindowAttentionOptions options(8, {4, 4}, {shift, shift}, 2);
  options.version = version;
  ShiftedWindowAttention attn(options, Init::kTorchvision);
  torch::NoGradGuard no_grad;
  attn->qkv()->weight.normal_(0.0, 0.3);
  attn->qkv()->bias.normal_(0.0, 0.3);
  return attn;
}

// Output at `out` changes when the input at `in` does (one token of [1, H, W, C]).
bool depends_on(ShiftedWindowAttention& attn, const torch::Tensor& x, std::array<int64_t, 2> out,
                std::array<int64_t, 2> in) {
  torch::NoGradGuard no_grad;
  torch::Tensor moved = x.clone();
  moved[0][in[0]][in[1]] += 3.0;
  const torch::Tensor a = attn->forward(x)[0][out[0]][out[1]];
  const torch::Tensor b = attn->forward(moved)[0][out[0]][out[1]];
  return !torch::allclose(a, b, /*rtol=*/0.0, /*atol=*/1e-6);
}

// An 8x8 map, 4x4 windows, shift 2: the cyclic shift brings rows/columns 0..1 next to 6..7
// inside one window, and the mask keeps those regions from attending to each other; tokens of
// one region still do. Without the shift, tokens of different windows never interact.
TEST(ShiftedWindowAttention, MaskSeparatesRegionsTheShiftBringsTogether) {
  for (SwinVersion version : {SwinVersion::kV1, SwinVersion::kV2}) {
    torch::manual_seed(0);
    const torch::Tensor x = torch::randn({1, 8, 8, 8});
    auto shifted = make_window_attention(version, 2);
    auto plain = make_window_attention(version, 0);
    // (7, 7) and (6, 6) share a region and a shifted window; (0, 0) shares the window only.
    EXPECT_TRUE(depends_on(shifted, x, {7, 7}, {6, 6}));
    EXPECT_FALSE(depends_on(shifted, x, {7, 7}, {0, 0}));
    EXPECT_FALSE(depends_on(shifted, x, {7, 0}, {7, 7}));
    // The shifted windows straddle the unshifted ones: (3, 3) and (4, 4) meet only when shifted.
    EXPECT_TRUE(depends_on(shifted, x, {3, 3}, {4, 4}));
    EXPECT_FALSE(depends_on(plain, x, {3, 3}, {4, 4}));
    EXPECT_TRUE(depends_on(plain, x, {3, 3}, {0, 0}));
  }
}

// Sizes that are not window multiples are padded, and the output keeps the input's size; a map
// no larger than the window is not shifted (so a shift changes nothing there).
TEST(ShiftedWindowAttention, PadsToWindowMultiplesAndDropsUselessShifts) {
  torch::manual_seed(0);
  auto shifted = make_window_attention(SwinVersion::kV1, 2);
  auto plain = make_window_attention(SwinVersion::kV1, 0);
  {
    torch::NoGradGuard no_grad;
    auto from = shifted->named_parameters();
    auto to = plain->named_parameters();
    for (size_t i = 0; i < from.size(); ++i) to[i].value().copy_(from[i].value());
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor odd = torch::randn({2, 7, 5, 8});
  EXPECT_EQ(shifted->forward(odd).sizes(), odd.sizes());
  const torch::Tensor small = torch::randn({2, 3, 4, 8});  // pads to one 4x4 window
  EXPECT_TRUE(torch::equal(shifted->forward(small), plain->forward(small)));
  EXPECT_FALSE(torch::equal(shifted->forward(odd), plain->forward(odd)));
}

// torchvision's buffers, from their definition token by token: the index of the pair (i, j) of
// window tokens is (dh + Wh - 1) (2 Ww - 1) + (dw + Ww - 1); v2's coordinate table holds
// sign(t) log2(|t| + 1) / 3 for t = 8 d / (W - 1) on each axis.
TEST(ShiftedWindowAttention, BuffersFollowTorchvisionsDefinitions) {
  const int64_t wh = 3, ww = 4;
  ShiftedWindowAttentionOptions options(8, {wh, ww}, {0, 0}, 2);
  options.version = SwinVersion::kV2;
  ShiftedWindowAttention attn(options, Init::kSkip);
  const auto buffers = attn->named_buffers();
  const torch::Tensor index = buffers["relative_position_index"];
  ASSERT_EQ(index.scalar_type(), torch::kInt64);
  ASSERT_EQ(index.numel(), wh * ww * wh * ww);
  for (int64_t i = 0; i < wh * ww; ++i) {
    for (int64_t j = 0; j < wh * ww; ++j) {
      const int64_t dh = i / ww - j / ww, dw = i % ww - j % ww;
      EXPECT_EQ(index[i * wh * ww + j].item<int64_t>(), (dh + wh - 1) * (2 * ww - 1) + dw + ww - 1)
          << i << ", " << j;
    }
  }
  const torch::Tensor table = buffers["relative_coords_table"];
  ASSERT_EQ(table.sizes().vec(), (std::vector<int64_t>{1, 2 * wh - 1, 2 * ww - 1, 2}));
  auto log_spaced = [](double d, int64_t window) {
    const double t = 8.0 * d / static_cast<double>(window - 1);
    return (t > 0 ? 1.0 : t < 0 ? -1.0 : 0.0) * std::log2(std::abs(t) + 1.0) / 3.0;
  };
  for (int64_t a = 0; a < 2 * wh - 1; ++a) {
    for (int64_t b = 0; b < 2 * ww - 1; ++b) {
      EXPECT_NEAR(table[0][a][b][0].item<double>(), log_spaced(a - (wh - 1), wh), 1e-6);
      EXPECT_NEAR(table[0][a][b][1].item<double>(), log_spaced(b - (ww - 1), ww), 1e-6);
    }
  }
  // v1: a learned table instead of the coordinates and the MLP.
  ShiftedWindowAttention v1(ShiftedWindowAttentionOptions(8, {wh, ww}, {0, 0}, 2),
                            Init::kTorchvision);
  const auto params = v1->named_parameters();
  EXPECT_EQ(params["relative_position_bias_table"].sizes().vec(),
            (std::vector<int64_t>{(2 * wh - 1) * (2 * ww - 1), 2}));
  EXPECT_TRUE(torch::equal(v1->named_buffers()["relative_position_index"], index));
}

TEST(ShiftedWindowAttention, RejectsBadOptionsAndInputs) {
  EXPECT_THROW(
      ShiftedWindowAttention(ShiftedWindowAttentionOptions(10, {4, 4}, {0, 0}, 3), Init::kSkip),
      Error);
  ShiftedWindowAttentionOptions one_wide(8, {1, 4}, {0, 0}, 2);
  one_wide.version = SwinVersion::kV2;  // its coordinates divide by window - 1
  EXPECT_THROW(ShiftedWindowAttention(one_wide, Init::kSkip), Error);
  ShiftedWindowAttention attn(ShiftedWindowAttentionOptions(8, {4, 4}, {0, 0}, 2), Init::kSkip);
  try {
    attn->forward(torch::zeros({1, 8, 8, 6}));
    FAIL() << "6 channels accepted by an 8-channel attention";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("[1, 8, 8, 6]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ptinfer::models
