// torchvision 0.14's ShuffleNetV2 family (torchvision/models/shufflenetv2.py) as LibTorch
// modules, with torchvision's attribute names and registration order, so the state-dict keys
// ("stage2.0.branch1.0.weight", "conv5.1.running_var", "fc.bias", ...) and their order are
// torchvision's and torchvision checkpoints load unchanged. BatchNorm: nn.BatchNorm2d's defaults
// (eps 1e-5, momentum 0.1). Initialisation: torchvision leaves every layer at PyTorch's default,
// which LibTorch's layers share (kaiming_uniform_(a=sqrt(5)) weights, uniform biases).
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "models/blocks/channel_shuffle.h"
#include "models/classifier.h"

namespace ptinfer::models {

// torchvision's shufflenetv2.InvertedResidual (named for its family here: MobileNetV2 has
// another). stride > 1: cat(branch1(x), branch2(x)); stride 1: x split into halves x1, x2 along
// the channels, cat(x1, branch2(x2)); then channel_shuffle(out, 2).
// Children: branch1 (stride > 1: depthwise 3x3 conv(stride), BN, 1x1 conv, BN, ReLU; stride 1:
// an empty Sequential, as torchvision's), branch2 (1x1 conv, BN, ReLU, depthwise 3x3
// conv(stride), BN, 1x1 conv, BN, ReLU), channel_shuffle (parameterless; torchvision calls the
// function instead, so the state dict is the same).
class ShuffleNetInvertedResidualImpl : public torch::nn::Module {
 public:
  // Throws Error(kInvalidArgument) unless 1 <= stride <= 3 and, for stride 1,
  // inp == (oup / 2) * 2, as torchvision does.
  ShuffleNetInvertedResidualImpl(int64_t inp, int64_t oup, int64_t stride, Init init);
  // x: [N, inp, H, W] -> [N, oup, H', W'].
  torch::Tensor forward(const torch::Tensor& x);
  int64_t stride() const { return stride_; }

 private:
  int64_t stride_;
  torch::nn::Sequential branch1_{nullptr}, branch2_{nullptr};
  ChannelShuffle channel_shuffle_{nullptr};
};
TORCH_MODULE(ShuffleNetInvertedResidual);

// torchvision's ShuffleNetV2. Children: conv1 (3x3 stride-2 conv, BN, ReLU), maxpool (3, 2, 1),
// stage2..stage4 (Sequentials "0", "1", ...: one stride-2 block, then repeats - 1 stride-1
// blocks), conv5 (1x1 conv, BN, ReLU), fc. Forward: conv1, maxpool, stages, conv5, mean over
// H and W, fc.
class ShuffleNetV2 : public ImageClassifier {
 public:
  // stages_repeats: blocks of stage2..stage4; stages_out_channels: conv1's, the three stages'
  // and conv5's output channels. Throws Error(kInvalidArgument) for num_classes < 1, a repeat
  // count < 1 or a channel count < 1, or when a block's channels do not fit (see above).
  ShuffleNetV2(const std::array<int64_t, 3>& stages_repeats,
               const std::array<int64_t, 5>& stages_out_channels, int64_t num_classes, Init init);
  // x: [N, 3, H, W] float -> logits [N, num_classes]. Throws Error(kInvalidArgument) naming
  // the shape for any other.
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential conv1_{nullptr};
  torch::nn::MaxPool2d maxpool_{nullptr};
  torch::nn::Sequential stage2_{nullptr}, stage3_{nullptr}, stage4_{nullptr};
  torch::nn::Sequential conv5_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

// torchvision's configurations: repeats [4, 8, 4]; channels [24, 48, 96, 192, 1024] (x0_5),
// [24, 116, 232, 464, 1024] (x1_0), [24, 176, 352, 704, 1024] (x1_5),
// [24, 244, 488, 976, 2048] (x2_0).
std::shared_ptr<ShuffleNetV2> shufflenet_v2_x0_5(int64_t num_classes,
                                                 Init init = Init::kTorchvision);
std::shared_ptr<ShuffleNetV2> shufflenet_v2_x1_0(int64_t num_classes,
                                                 Init init = Init::kTorchvision);
std::shared_ptr<ShuffleNetV2> shufflenet_v2_x1_5(int64_t num_classes,
                                                 Init init = Init::kTorchvision);
std::shared_ptr<ShuffleNetV2> shufflenet_v2_x2_0(int64_t num_classes,
                                                 Init init = Init::kTorchvision);

}  // namespace ptinfer::models
