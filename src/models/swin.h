// torchvision 0.14's Swin Transformer, v1 and v2 (torchvision/models/swin_transformer.py), as
// LibTorch modules with torchvision's state-dict names and order:
//   features.0.{0 (Conv2d patch embedding), 2 (LayerNorm)}; features.1, .3, .5, .7: stages
//   (Sequentials of blocks "0", "1", ...: norm1, attn, norm2, mlp.0, mlp.3); features.2, .4,
//   .6: patch merging (reduction, norm); then norm, head.
// Tensors run channels-last ([B, H, W, C]) between the patch embedding and the final permute.
// LayerNorm eps 1e-5. Any input of at least patch size works: attention pads to window
// multiples and patch merging pads odd sizes, as torchvision does.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "models/blocks/attention.h"
#include "models/blocks/nested_sequential.h"
#include "models/blocks/permute.h"
#include "models/blocks/stochastic_depth.h"
#include "models/classifier.h"

namespace ptinfer::models {

struct SwinOptions {
  std::array<int64_t, 2> patch_size = {4, 4};
  int64_t embed_dim = 96;
  std::vector<int64_t> depths = {2, 2, 6, 2};       // blocks per stage
  std::vector<int64_t> num_heads = {3, 6, 12, 24};  // attention heads per stage
  std::array<int64_t, 2> window_size = {7, 7};
  double mlp_ratio = 4.0;
  double dropout = 0.0;
  double attention_dropout = 0.0;
  double stochastic_depth_prob = 0.1;  // of the last block; block i of n gets p * i / (n - 1)
  int64_t num_classes = 1000;
  SwinVersion version = SwinVersion::kV1;  // v2: SwinTransformerBlockV2 and PatchMergingV2
  Init init = Init::kTorchvision;          // classifier.h
};

// torchvision's SwinTransformerBlock / SwinTransformerBlockV2. Children: norm1, attn
// (ShiftedWindowAttention of `version`), stochastic_depth (StochasticDepth(p, "row")), norm2,
// mlp (Linear(dim, int(dim * mlp_ratio)), GELU, Dropout, Linear(.., dim), Dropout).
//  v1: x = x + sd(attn(norm1(x))); x = x + sd(mlp(norm2(x)))
//  v2: x = x + sd(norm1(attn(x))); x = x + sd(norm2(mlp(x)))   (post-norm)
// Throws as ShiftedWindowAttention, or Error(kInvalidArgument) for a non-positive MLP width.
class SwinTransformerBlockImpl : public torch::nn::Module {
 public:
  SwinTransformerBlockImpl(int64_t dim, int64_t num_heads, std::array<int64_t, 2> shift_size,
                           double stochastic_depth_prob, const SwinOptions& options);
  // x: [B, H, W, dim] -> same shape.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  SwinVersion version_;
  torch::nn::LayerNorm norm1_{nullptr}, norm2_{nullptr};
  ShiftedWindowAttention attn_{nullptr};
  StochasticDepth stochastic_depth_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
};
TORCH_MODULE(SwinTransformerBlock);

// torchvision's PatchMerging / PatchMergingV2: odd H or W padded by one, each 2x2 neighbourhood
// concatenated ([..., H/2, W/2, 4 dim], order x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2],
// x[1::2, 1::2]), then v1: reduction(norm(x)) with norm over 4 dim; v2: norm(reduction(x)) with
// norm over 2 dim. Children: reduction (Linear(4 dim, 2 dim, no bias)), norm.
class PatchMergingImpl : public torch::nn::Module {
 public:
  PatchMergingImpl(int64_t dim, SwinVersion version, Init init);
  // x: [..., H, W, dim] -> [..., ceil(H / 2), ceil(W / 2), 2 dim].
  torch::Tensor forward(const torch::Tensor& x);

 private:
  SwinVersion version_;
  torch::nn::Linear reduction_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(PatchMerging);

// torchvision's SwinTransformer. Children: features (a NestedSequential of: [Conv2d(3, embed_dim,
// patch, stride patch), Permute(0, 2, 3, 1), LayerNorm], then the stages of dim embed_dim * 2^i
// with a PatchMerging between consecutive stages; block j of a stage shifts by window / 2 when j
// is odd), norm, permute (Permute(0, 3, 1, 2)), avgpool, flatten, head. Init as torchvision:
// every Linear trunc_normal_(std 0.02) with zero bias, the bias tables trunc_normal_(std 0.02),
// logit_scale log(10), convolution and norms at their defaults; Init::kSkip leaves the
// convolution, the Linears and the bias tables uninitialised (classifier.h).
class SwinTransformer : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for non-positive sizes, counts or num_classes, depths and
  // num_heads of different lengths (or empty), fewer than 2 blocks in all (torchvision divides
  // by their number - 1), a probability outside [0, 1], or a stage dim not divisible by its
  // heads.
  explicit SwinTransformer(const SwinOptions& options);
  // x: [N, 3, H, W] float with H, W >= the patch size -> logits [N, num_classes]. Throws
  // Error(kInvalidArgument) naming the shape otherwise.
  torch::Tensor forward(torch::Tensor x) override;
  const SwinOptions& options() const { return options_; }

 private:
  SwinOptions options_;
  NestedSequential features_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  Permute permute_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Flatten flatten_{nullptr};
  torch::nn::Linear head_{nullptr};
};

// torchvision's configurations (embed_dim, depths, heads, window, stochastic depth):
// swin_t (96, [2, 2, 6, 2], [3, 6, 12, 24], 7, 0.2), swin_s (96, [2, 2, 18, 2], same heads, 7,
// 0.3), swin_b (128, [2, 2, 18, 2], [4, 8, 16, 32], 7, 0.5); swin_v2_t/s/b the same with window
// 8 and the v2 block and patch merging.
std::shared_ptr<SwinTransformer> swin_t(const ModelConfig& config);
std::shared_ptr<SwinTransformer> swin_s(const ModelConfig& config);
std::shared_ptr<SwinTransformer> swin_b(const ModelConfig& config);
std::shared_ptr<SwinTransformer> swin_v2_t(const ModelConfig& config);
std::shared_ptr<SwinTransformer> swin_v2_s(const ModelConfig& config);
std::shared_ptr<SwinTransformer> swin_v2_b(const ModelConfig& config);

}  // namespace ptinfer::models
