// A ResNet-family model reduced to what inference needs: every BatchNorm folded into the
// convolution before it (weights scaled per output channel, a bias added), the blocks as plain
// lists of convolutions, and the classifier head. The kernels in this folder run this form.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "models/resnet.h"

namespace ptinfer::fastpath {

// One convolution with its BatchNorm folded in: y = conv(x, weight) + bias.
struct FoldedConv {
  torch::Tensor weight;  // float32, contiguous [out, in / groups, kh, kw]
  torch::Tensor bias;    // float32 [out]
  int64_t stride = 1;    // same in both spatial dimensions (as every ResNet conv)
  int64_t padding = 0;   // same on every side
  int64_t groups = 1;
  int64_t in_channels() const { return weight.size(1) * groups; }
  int64_t out_channels() const { return weight.size(0); }
  int64_t kernel() const { return weight.size(2); }
};

// One residual block: convs[0..n-2] each followed by ReLU; the last conv's output is added to
// the shortcut (downsample(x) when present, else x) and then ReLU'd.
struct FoldedBlock {
  std::vector<FoldedConv> convs;         // BasicBlock: 2, Bottleneck: 3
  std::optional<FoldedConv> downsample;  // downsample.0 + downsample.1 folded, no ReLU
};

// stem (conv1+bn1, ReLU) -> maxpool 3x3/2 pad 1 -> blocks -> global average pool -> fc.
struct FoldedResNet {
  FoldedConv stem;
  std::vector<FoldedBlock> blocks;  // layer1..layer4 in order
  torch::Tensor fc_weight;          // float32 [num_classes, features]
  torch::Tensor fc_bias;            // float32 [num_classes]
};

// Folds eval-mode BatchNorm (running statistics, affine weight/bias, eps) into a bias-free
// convolution weight: scale = gamma / sqrt(var + eps) (computed in double), weight * scale per
// output channel, bias = beta - mean * scale. All inputs are read as float32/double whatever
// their dtype; results are float32 contiguous on the CPU.
FoldedConv fold_batch_norm(const torch::nn::Conv2dImpl& conv, const torch::nn::BatchNorm2dImpl& bn);

// The folded form of `model` (which is left untouched). Throws Error(kUnsupported) when a module
// the ResNet family always has is missing or has a shape this form does not cover (dilation,
// asymmetric stride/padding, a conv with its own bias).
FoldedResNet fold_resnet(const models::ResNet& model);

}  // namespace ptinfer::fastpath
