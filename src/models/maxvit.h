// torchvision 0.14's MaxViT (torchvision/models/maxvit.py) as LibTorch modules.
//
// Every submodule is registered under torchvision's attribute name and in its __init__ order, so
// parameter and buffer names and their order are torchvision's state-dict keys
// ("blocks.0.layers.0.layers.MBconv.layers.conv_a.0.weight",
// "blocks.2.layers.1.layers.grid_attention.attn_layer.1.relative_position_index",
// "classifier.5.weight", ...) and torchvision checkpoints load unchanged.
//
// The convolutions' BatchNorm is torchvision's partial(nn.BatchNorm2d, eps=1e-3, momentum=0.99);
// the attention layers' LayerNorms are nn.LayerNorm's default (eps 1e-5); every activation is the
// exact (erf) GELU, the squeeze-excitation's is SiLU. Dropout and stochastic depth ("row") are
// active only in train(); stochastic depth grows linearly (numpy.linspace) over all layers.
//
// A MaxViT is built for one input size: its attention partitions each block's feature map, whose
// size it fixes at construction, into partition_size x partition_size windows and grids.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "models/blocks/activation.h"
#include "models/blocks/conv_norm_act.h"
#include "models/blocks/stochastic_depth.h"
#include "models/classifier.h"

namespace ptinfer::models {

using GridSize = std::array<int64_t, 2>;  // (height, width)

// torchvision's MaxVit MBConv (named MaxVitMBConv: EfficientNet's MBConv is another class in
// this namespace, and one name for two definitions breaks the one-definition rule):
// proj(x) + stochastic_depth(layers(x)), layers the named Sequential
// [pre_norm BatchNorm2d(in), conv_a Conv2dNormActivation 1x1 in -> mid, conv_b depthwise 3x3
// (stride), squeeze_excitation SqueezeExcitation(mid, sqz, SiLU), conv_c Conv2d 1x1 mid -> out
// (bias)], mid = int(out * expansion_ratio), sqz = int(out * squeeze_ratio). proj is
// [AvgPool2d(3, stride, padding 1) when stride is 2, Conv2d 1x1 in -> out (bias)] when stride != 1
// or in != out, else nn.Identity. Children: proj, stochastic_depth, layers (torchvision's
// nn.Identity for a stochastic depth of 0 is a StochasticDepth(0) here: the same function, and no
// state-dict entries either way). Throws Error(kInvalidArgument) for a stride other than 1 or 2,
// or channel counts < 1.
class MaxVitMBConvImpl : public torch::nn::Module {
 public:
  MaxVitMBConvImpl(int64_t in_channels, int64_t out_channels, double expansion_ratio,
             double squeeze_ratio, int64_t stride, BatchNormSpec norm, ActivationKind activation,
             double p_stochastic_dropout, Init init);
  // x: [N, in, H, W] -> [N, out, ceil(H / stride), ceil(W / stride)].
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential proj_{nullptr};  // null: the identity
  StochasticDepth stochastic_depth_{nullptr};
  torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(MaxVitMBConv);

// torchvision's RelativePositionalMultiHeadAttention over [B, G, P, D] (P = max_seq_len tokens
// in each of G groups): to_qkv Linear(D, 3 D), n_heads = D / head_dim heads, softmax(q kᵀ +
// bias) v with k scaled by D^-0.5 (torchvision scales by the feature size, not head_dim), then
// merge Linear(D, D). The bias [n_heads, P, P] is relative_position_bias_table [(2 s - 1)^2,
// n_heads] (s = int(sqrt(max_seq_len))) gathered by the int64 buffer relative_position_index
// [P, P]. Written as explicit matmul/softmax ops. Own parameter relative_position_bias_table
// (trunc_normal_(std 0.02) with Init::kTorchvision, zeros with kSkip), own buffer
// relative_position_index; children to_qkv, merge. Throws Error(kInvalidArgument) unless
// head_dim divides feat_dim.
class RelativePositionalMultiHeadAttentionImpl : public torch::nn::Module {
 public:
  RelativePositionalMultiHeadAttentionImpl(int64_t feat_dim, int64_t head_dim, int64_t max_seq_len,
                                           Init init);
  // x: [B, G, P, D] -> same shape (P must be max_seq_len).
  torch::Tensor forward(const torch::Tensor& x);
  // The bias added to the attention logits: [1, n_heads, P, P].
  torch::Tensor relative_positional_bias() const;

 private:
  int64_t n_heads_, head_dim_, max_seq_len_;
  double scale_factor_;
  torch::nn::Linear to_qkv_{nullptr}, merge_{nullptr};
  torch::Tensor relative_position_bias_table_, relative_position_index_;
};
TORCH_MODULE(RelativePositionalMultiHeadAttention);

// torchvision's WindowPartition: [B, C, H, W] -> [B, (H/p)(W/p), p*p, C], non-overlapping p x p
// windows (H and W divisible by p). No state.
class WindowPartitionImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x, int64_t p);
};
TORCH_MODULE(WindowPartition);

// torchvision's WindowDepartition, WindowPartition's inverse: [B, hp*wp, p*p, C] ->
// [B, C, hp*p, wp*p]. No state.
class WindowDepartitionImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x, int64_t p, int64_t h_partitions,
                        int64_t w_partitions);
};
TORCH_MODULE(WindowDepartition);

// torchvision's SwapAxes: torch.swapaxes(x, a, b). No state.
class SwapAxesImpl : public torch::nn::Module {
 public:
  SwapAxesImpl(int64_t a, int64_t b) : a_(a), b_(b) {}
  torch::Tensor forward(const torch::Tensor& x) { return x.transpose(a_, b_); }

 private:
  int64_t a_, b_;
};
TORCH_MODULE(SwapAxes);

enum class PartitionType { kWindow, kGrid };

// torchvision's PartitionAttentionLayer on a [B, C, H, W] map of the grid_size it is built for:
// partition (window: p = partition_size; grid: p = grid_size[0] / partition_size, then
// SwapAxes(-2, -3), so that attention always runs over partition_size^2 tokens), x + sd(attn(x)),
// x + sd(mlp(x)), then the inverse. attn_layer: Sequential [LayerNorm(C), RelativePositional-
// MultiHeadAttention(C, head_dim, partition_size^2), Dropout]; mlp_layer: Sequential
// [LayerNorm(C), Linear(C, C mlp_ratio), activation, Linear(C mlp_ratio, C), Dropout].
// Children: partition_op, departition_op, partition_swap, departition_swap (SwapAxes for a grid,
// nn.Identity for a window), attn_layer, mlp_layer, stochastic_dropout. Throws
// Error(kInvalidArgument) when the grid is not divisible by p, as torchvision's assert.
class PartitionAttentionLayerImpl : public torch::nn::Module {
 public:
  PartitionAttentionLayerImpl(int64_t in_channels, int64_t head_dim, int64_t partition_size,
                              PartitionType partition_type, GridSize grid_size, int64_t mlp_ratio,
                              ActivationKind activation, double attention_dropout,
                              double mlp_dropout, double p_stochastic_dropout, Init init);
  // x: [B, C, grid_size[0], grid_size[1]] -> same shape.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  int64_t p_;
  GridSize grid_size_;
  bool grid_;
  WindowPartition partition_op_{nullptr};
  WindowDepartition departition_op_{nullptr};
  SwapAxes partition_swap_{nullptr}, departition_swap_{nullptr};  // null for a window
  torch::nn::Sequential attn_layer_{nullptr}, mlp_layer_{nullptr};
  StochasticDepth stochastic_dropout_{nullptr};
};
TORCH_MODULE(PartitionAttentionLayer);

// The hyperparameters MaxVitLayer and MaxVitBlock share (torchvision's keyword arguments).
struct MaxVitLayerSpec {
  double squeeze_ratio = 0.25;
  double expansion_ratio = 4.0;
  BatchNormSpec norm{1e-3, 0.99};
  ActivationKind activation = ActivationKind::kGELU;
  int64_t head_dim = 32;
  int64_t mlp_ratio = 4;
  double mlp_dropout = 0.0;
  double attention_dropout = 0.0;
  int64_t partition_size = 7;
};

// torchvision's MaxVitLayer: the named Sequential layers [MBconv (stride), window_attention,
// grid_attention] (PartitionAttentionLayers on out_channels at grid_size). Child: layers.
class MaxVitLayerImpl : public torch::nn::Module {
 public:
  MaxVitLayerImpl(int64_t in_channels, int64_t out_channels, int64_t stride,
                  const MaxVitLayerSpec& spec, double p_stochastic_dropout, GridSize grid_size,
                  Init init);
  torch::Tensor forward(const torch::Tensor& x) { return layers_->forward(x); }

 private:
  torch::nn::Sequential layers_{nullptr};
};
TORCH_MODULE(MaxVitLayer);

// torchvision's MaxVitBlock: p_stochastic.size() MaxVitLayers in the ModuleList layers, the
// first with stride 2 (in -> out channels), all at grid_size() = the stride-2 3x3 convolution's
// output size of input_grid_size. Throws Error(kInvalidArgument) for an empty p_stochastic.
class MaxVitBlockImpl : public torch::nn::Module {
 public:
  MaxVitBlockImpl(int64_t in_channels, int64_t out_channels, const MaxVitLayerSpec& spec,
                  GridSize input_grid_size, const std::vector<double>& p_stochastic, Init init);
  torch::Tensor forward(torch::Tensor x);
  GridSize grid_size() const { return grid_size_; }

 private:
  GridSize grid_size_;
  torch::nn::ModuleList layers_{nullptr};
  std::vector<MaxVitLayer> layer_list_;  // layers_'s elements, typed
};
TORCH_MODULE(MaxVitBlock);

struct MaxVitOptions {
  GridSize input_size = {224, 224};  // the input size the model is built for (square)
  int64_t stem_channels = 64;
  int64_t partition_size = 7;
  std::vector<int64_t> block_channels = {64, 128, 256, 512};
  std::vector<int64_t> block_layers = {2, 2, 5, 2};
  int64_t head_dim = 32;
  double stochastic_depth_prob = 0.2;  // linspace(0, this, sum(block_layers)) over the layers
  double squeeze_ratio = 0.25;
  double expansion_ratio = 4.0;
  int64_t mlp_ratio = 4;
  double mlp_dropout = 0.0;
  double attention_dropout = 0.0;
  int64_t num_classes = 1000;
  Init init = Init::kTorchvision;  // classifier.h; kSkip before a strict load
};

// torchvision's MaxVit. Children: stem (Sequential of two Conv2dNormActivations: 3x3 stride 2
// with BatchNorm and GELU, no bias; 3x3 with bias, no norm or activation), blocks (ModuleList of
// MaxVitBlocks), classifier (Sequential [AdaptiveAvgPool2d(1), Flatten, LayerNorm, Linear, Tanh,
// Linear without bias]). With Init::kTorchvision convolution and linear weights are
// normal_(std 0.02) with zero biases, BatchNorm weight 1 and bias 0.
class MaxVit : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) as torchvision's ValueError when a block's input size is not
  // divisible by partition_size (its message lists the block input sizes), for a non-square
  // input_size (torchvision's grid attention then fails at the first forward), for
  // block_channels and block_layers of different or zero lengths, a count < 1, num_classes < 1,
  // or head_dim not dividing a block's channels.
  explicit MaxVit(const MaxVitOptions& options);
  // x: [N, 3, H, W] float -> logits [N, num_classes]. Throws Error(kInvalidArgument) naming the
  // shape for anything but [N, 3, H, W], and, naming the size the model is built for and the
  // partition constraint, for an H, W whose block feature maps differ from those the model was
  // built for (only input_size and sizes that round to the same maps, e.g. 223 for 224, fit).
  torch::Tensor forward(torch::Tensor x) override;
  const MaxVitOptions& options() const { return options_; }
  // The feature-map size of each block's attention layers for an H x W input.
  std::vector<GridSize> block_grid_sizes(GridSize input) const;

 private:
  MaxVitOptions options_;
  std::vector<GridSize> block_grids_;  // block_grid_sizes(options_.input_size)
  torch::nn::Sequential stem_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  std::vector<MaxVitBlock> block_list_;  // blocks_'s elements, typed
  torch::nn::Sequential classifier_{nullptr};
};

// torchvision's maxvit_t: stem 64, blocks 64-128-256-512 x 2-2-5-2, head_dim 32, partition 7,
// stochastic depth 0.2, built for image_size x image_size (0: 224, torchvision's default and
// its weights' min_size).
std::shared_ptr<MaxVit> maxvit_t(int64_t num_classes, Init init = Init::kTorchvision,
                                 int64_t image_size = 0);

}  // namespace ptinfer::models
