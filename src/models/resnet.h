// torchvision 0.14's ResNet family (torchvision/models/resnet.py) as LibTorch modules.
//
// Every submodule is registered under torchvision's attribute name, so the parameter and buffer
// names are exactly torchvision's state-dict keys ("layer2.0.downsample.1.running_mean",
// "bn1.num_batches_tracked", "fc.weight", ...) and torchvision checkpoints load unchanged.
// Registration order follows torchvision's __init__ order, so a traversal of each module's own
// parameters then buffers, depth first, lists the keys in state_dict() order.
//
// Bottleneck puts the stride on the 3x3 conv (ResNet V1.5), as torchvision does. BatchNorm uses
// eps 1e-5 and momentum 0.1; after eval() it normalises with the running statistics.
// Dilation (replace_stride_with_dilation) and custom norm layers are not supported.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "models/classifier.h"

namespace ptinfer::models {

enum class BlockKind { kBasic, kBottleneck };

struct ResNetOptions {
  BlockKind block = BlockKind::kBottleneck;      // BasicBlock (expansion 1) or Bottleneck (4)
  std::array<int64_t, 4> layers = {3, 4, 6, 3};  // blocks in layer1..layer4
  int64_t num_classes = 1000;                    // outputs of fc
  bool zero_init_residual = false;               // last BN weight of each residual branch = 0
  int64_t groups = 1;                            // grouped 3x3 conv (ResNeXt cardinality)
  int64_t width_per_group = 64;                  // ResNeXt/Wide ResNet bottleneck width
  Init init = Init::kTorchvision;                // classifier.h; kSkip before a strict load
};

// torchvision's BasicBlock: conv3x3(stride)-bn-relu-conv3x3-bn (+ downsample(x)) -relu.
// Children: conv1, bn1, relu, conv2, bn2[, downsample].
class BasicBlock : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  // `downsample` may be empty (identity shortcut). Throws Error(kInvalidArgument) unless
  // groups == 1 and base_width == 64, as torchvision does. `init` as ResNetOptions::init.
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, torch::nn::Sequential downsample,
             int64_t groups, int64_t base_width, Init init);
  torch::Tensor forward(torch::Tensor x);
  // The BN whose weight zero_init_residual zeroes.
  torch::nn::BatchNorm2d& last_bn() { return bn2_; }

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};

// torchvision's Bottleneck: conv1x1-bn-relu-conv3x3(stride, groups)-bn-relu-conv1x1-bn
// (+ downsample(x)) -relu, with width = int(planes * base_width / 64) * groups.
// Children: conv1, bn1, conv2, bn2, conv3, bn3, relu[, downsample].
class Bottleneck : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, torch::nn::Sequential downsample,
             int64_t groups, int64_t base_width, Init init);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::BatchNorm2d& last_bn() { return bn3_; }

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::Sequential downsample_{nullptr};
};

// torchvision's ResNet. Children: conv1, bn1, relu, maxpool, layer1..layer4 (Sequentials of
// blocks named "0", "1", ...), avgpool, fc. Initialised as torchvision: convs kaiming_normal_
// (fan_out, relu), BN weight 1 and bias 0, fc as nn.Linear's default; with zero_init_residual the
// last BN weight of every block is 0.
class ResNet : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for num_classes < 1, a layer count < 1, groups < 1 or
  // width_per_group < 1, or BasicBlock with groups != 1 / width_per_group != 64.
  explicit ResNet(const ResNetOptions& options);
  // x: [N, 3, H, W] float (H, W >= 1) -> logits [N, num_classes].
  torch::Tensor forward(torch::Tensor x) override;
  const ResNetOptions& options() const { return options_; }

 private:
  torch::nn::Sequential make_layer(int64_t planes, int64_t blocks, int64_t stride);

  ResNetOptions options_;
  int64_t inplanes_ = 64;  // channels entering the next layer while the layers are built
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  torch::nn::ReLU relu_{nullptr};
  torch::nn::MaxPool2d maxpool_{nullptr};
  torch::nn::Sequential layer1_{nullptr}, layer2_{nullptr}, layer3_{nullptr}, layer4_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

// Runs `child`, one of ResNet's top-level children (conv1, bn1, relu, maxpool, layer1..layer4,
// avgpool, fc), on `x`, flattening before fc as ResNet::forward does: running the children in
// order is ResNet::forward, one layer's output at a time (for per-layer checks). Throws
// Error(kInternal) for a module of any other type.
torch::Tensor forward_top_level_child(torch::nn::Module& child, const torch::Tensor& x);

// torchvision's configurations: resnet18/34 (BasicBlock [2,2,2,2] / [3,4,6,3]),
// resnet50/101/152 (Bottleneck [3,4,6,3] / [3,4,23,3] / [3,8,36,3]), resnext50_32x4d,
// resnext101_32x8d, resnext101_64x4d (groups x width_per_group), wide_resnet50_2 and
// wide_resnet101_2 (width_per_group 128).
std::shared_ptr<ResNet> resnet18(int64_t num_classes, bool zero_init_residual = false,
                                 Init init = Init::kTorchvision);
std::shared_ptr<ResNet> resnet34(int64_t num_classes, bool zero_init_residual = false,
                                 Init init = Init::kTorchvision);
std::shared_ptr<ResNet> resnet50(int64_t num_classes, bool zero_init_residual = false,
                                 Init init = Init::kTorchvision);
std::shared_ptr<ResNet> resnet101(int64_t num_classes, bool zero_init_residual = false,
                                  Init init = Init::kTorchvision);
std::shared_ptr<ResNet> resnet152(int64_t num_classes, bool zero_init_residual = false,
                                  Init init = Init::kTorchvision);
std::shared_ptr<ResNet> resnext50_32x4d(int64_t num_classes, bool zero_init_residual = false,
                                        Init init = Init::kTorchvision);
std::shared_ptr<ResNet> resnext101_32x8d(int64_t num_classes, bool zero_init_residual = false,
                                         Init init = Init::kTorchvision);
std::shared_ptr<ResNet> resnext101_64x4d(int64_t num_classes, bool zero_init_residual = false,
                                         Init init = Init::kTorchvision);
std::shared_ptr<ResNet> wide_resnet50_2(int64_t num_classes, bool zero_init_residual = false,
                                        Init init = Init::kTorchvision);
std::shared_ptr<ResNet> wide_resnet101_2(int64_t num_classes, bool zero_init_residual = false,
                                         Init init = Init::kTorchvision);

}  // namespace ptinfer::models
