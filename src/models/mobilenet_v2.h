// torchvision 0.14's MobileNetV2 (torchvision/models/mobilenetv2.py) as LibTorch modules, with
// torchvision's state-dict keys ("features.2.conv.1.0.weight", "classifier.1.weight", ...) in
// torchvision's order. BatchNorm: nn.BatchNorm2d's defaults (eps 1e-5, momentum 0.1).
#pragma once

#include <cstdint>
#include <memory>

#include "models/classifier.h"

namespace ptinfer::models {

struct MobileNetV2Options {
  int64_t num_classes = 1000;
  double width_mult = 1.0;  // channel multiplier, rounded by _make_divisible(round_nearest)
  int64_t round_nearest = 8;
  double dropout = 0.2;  // before the classifier's Linear (training only)
  Init init = Init::kTorchvision;
};

// torchvision's mobilenetv2.InvertedResidual: [1x1 expand ConvBNReLU6 when expand_ratio != 1],
// 3x3 depthwise ConvBNReLU6 (stride), 1x1 Conv2d, BatchNorm2d; plus x when stride == 1 and
// inp == oup. Child: conv (a Sequential "0", "1", ...). hidden channels = inp * expand_ratio.
class MobileNetV2InvertedResidual : public torch::nn::Module {
 public:
  // Throws Error(kInvalidArgument) unless stride is 1 or 2 and expand_ratio >= 1.
  MobileNetV2InvertedResidual(int64_t inp, int64_t oup, int64_t stride, int64_t expand_ratio,
                              Init init);
  torch::Tensor forward(torch::Tensor x);
  bool use_res_connect() const { return use_res_connect_; }

 private:
  bool use_res_connect_;
  torch::nn::Sequential conv_{nullptr};
};

// torchvision's MobileNetV2. Children: features (Sequential: stem ConvBNReLU6, 17 inverted
// residuals, 1x1 ConvBNReLU6 to last_channel), classifier (Dropout, Linear). Initialised as
// torchvision: convs kaiming_normal_(fan_out), BN 1/0, Linear normal_(0, 0.01) with zero bias.
class MobileNetV2 : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for num_classes < 1, width_mult <= 0, round_nearest < 1 or
  // dropout outside [0, 1].
  explicit MobileNetV2(const MobileNetV2Options& options);
  // x: [N, 3, H, W] (else Error(kInvalidArgument) naming the shape) -> logits [N, num_classes].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

// torchvision.models.mobilenet_v2(num_classes=...): width_mult 1.0.
std::shared_ptr<MobileNetV2> mobilenet_v2(int64_t num_classes, Init init = Init::kTorchvision);

}  // namespace ptinfer::models
