// The zoo's attention layers, written as explicit tensor ops (projections, head split, scaled
// q·kᵀ, softmax, ·v, out-projection) rather than LibTorch's fused modules, so that a graph
// compiler can lower them op by op:
//  - MultiheadSelfAttention: nn.MultiheadAttention(embed_dim, num_heads, batch_first=True) used
//    as self-attention (ViT), with its parameter names;
//  - ShiftedWindowAttention: Swin's windowed attention (torchvision/models/swin_transformer.py),
//    v1 (learned relative position bias table) and v2 (cosine attention, a continuous position
//    bias MLP), including the padding to window multiples, the cyclic shift and its mask.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <cstdint>

#include "models/classifier.h"

namespace ptinfer::models {

// nn.MultiheadAttention's self-attention with batch_first=True. Parameters in state-dict order:
// in_proj_weight [3E, E] (query, key, value rows), in_proj_bias [3E], out_proj.weight [E, E],
// out_proj.bias [E]. forward(x) = out_proj(softmax((q / sqrt(d)) kᵀ) v) per head, as PyTorch's
// multi_head_attention_forward computes it (d = E / num_heads); `dropout` drops attention
// weights in training only. Init::kTorchvision is nn.MultiheadAttention's _reset_parameters
// (xavier_uniform_ in_proj_weight, zero biases, out_proj.weight nn.Linear's default); kSkip
// leaves the parameters uninitialised (classifier.h). Throws Error(kInvalidArgument) unless
// embed_dim and num_heads are
// >= 1 with embed_dim divisible by num_heads, and 0 <= dropout <= 1.
class MultiheadSelfAttentionImpl : public torch::nn::Module {
 public:
  MultiheadSelfAttentionImpl(int64_t embed_dim, int64_t num_heads, double dropout, Init init);
  // x: [N, L, E] -> [N, L, E]. Throws Error(kInvalidArgument) naming the shape for any other
  // rank or last dimension.
  torch::Tensor forward(const torch::Tensor& x);

  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }
  const torch::Tensor& in_proj_weight() const { return in_proj_weight_; }
  const torch::Tensor& in_proj_bias() const { return in_proj_bias_; }
  torch::nn::Linear& out_proj() { return out_proj_; }

 private:
  int64_t embed_dim_, num_heads_;
  double dropout_;
  torch::Tensor in_proj_weight_, in_proj_bias_;
  torch::nn::Linear out_proj_{nullptr};
};
TORCH_MODULE(MultiheadSelfAttention);

enum class SwinVersion { kV1, kV2 };

// torchvision's shifted_window_attention(): input [B, H, W, C] is padded on the bottom/right to
// multiples of window_size, cyclically shifted by -shift_size (a shift is dropped on a side the
// padded map is not larger than the window), split into windows of window_size[0] *
// window_size[1] tokens, attended per window and head (v1, logit_scale undefined: (q d^-0.5) kᵀ;
// v2: cosine similarity times exp(min(logit_scale, log 100)), with the key's third of qkv_bias
// zeroed), plus relative_position_bias [1, heads, tokens, tokens], plus -100 between tokens from
// different regions of a shifted map; softmax, ·v, the projection, then the windows, shift and
// padding are undone. Dropouts act in training only. qkv_bias, proj_bias and logit_scale may be
// undefined tensors. Returns [B, H, W, C].
torch::Tensor shifted_window_attention(
    const torch::Tensor& input, const torch::Tensor& qkv_weight, const torch::Tensor& proj_weight,
    const torch::Tensor& relative_position_bias, std::array<int64_t, 2> window_size,
    int64_t num_heads, std::array<int64_t, 2> shift_size, double attention_dropout, double dropout,
    bool training, const torch::Tensor& qkv_bias = {}, const torch::Tensor& proj_bias = {},
    const torch::Tensor& logit_scale = {});

struct ShiftedWindowAttentionOptions {
  ShiftedWindowAttentionOptions(int64_t dim, std::array<int64_t, 2> window_size,
                                std::array<int64_t, 2> shift_size, int64_t num_heads)
      : dim(dim), window_size(window_size), shift_size(shift_size), num_heads(num_heads) {}
  int64_t dim;
  std::array<int64_t, 2> window_size;
  std::array<int64_t, 2> shift_size;
  int64_t num_heads;
  bool qkv_bias = true;
  bool proj_bias = true;
  double attention_dropout = 0.0;
  double dropout = 0.0;
  SwinVersion version = SwinVersion::kV1;
};

// torchvision's ShiftedWindowAttention (v1) / ShiftedWindowAttentionV2 (v2), in state-dict order:
//  v1: relative_position_bias_table [(2 Wh - 1)(2 Ww - 1), heads], buffer relative_position_index
//      [(Wh Ww)^2] (int64), qkv (Linear dim -> 3 dim), proj (Linear dim -> dim);
//  v2: logit_scale [heads, 1, 1], buffers relative_coords_table [1, 2 Wh - 1, 2 Ww - 1, 2] (the
//      log-spaced coordinates) and relative_position_index, qkv, proj, cpb_mlp (Sequential
//      Linear(2, 512), ReLU, Linear(512, heads, no bias)).
// The buffers are computed here, as torchvision does, under either Init; logit_scale is log(10)
// (v2). Init::kTorchvision draws the bias table from trunc_normal_(std 0.02) (v1) and leaves the
// Linears at nn.Linear's default (SwinTransformer re-initialises them); kSkip leaves both
// uninitialised (classifier.h). Throws
// Error(kInvalidArgument) unless dim and num_heads are >= 1 with dim divisible by num_heads,
// window sizes are >= 1 (>= 2 for v2, whose coordinates divide by size - 1) and shifts >= 0.
class ShiftedWindowAttentionImpl : public torch::nn::Module {
 public:
  ShiftedWindowAttentionImpl(const ShiftedWindowAttentionOptions& options, Init init);
  // x: [B, H, W, C] -> [B, H, W, C] (shifted_window_attention with this module's weights).
  torch::Tensor forward(const torch::Tensor& x);
  // [1, heads, Wh Ww, Wh Ww]: the table (v1) or 16 sigmoid(cpb_mlp(coordinates)) (v2), indexed.
  torch::Tensor relative_position_bias();
  const ShiftedWindowAttentionOptions& options() const { return options_; }
  torch::nn::Linear& qkv() { return qkv_; }
  torch::nn::Linear& proj() { return proj_; }

 private:
  ShiftedWindowAttentionOptions options_;
  torch::nn::Linear qkv_{nullptr}, proj_{nullptr};
  torch::Tensor relative_position_bias_table_;         // v1
  torch::Tensor logit_scale_, relative_coords_table_;  // v2
  torch::Tensor relative_position_index_;
  torch::nn::Sequential cpb_mlp_{nullptr};  // v2
};
TORCH_MODULE(ShiftedWindowAttention);

}  // namespace ptinfer::models
