// torchvision 0.14's MobileNetV3 (torchvision/models/mobilenetv3.py) as LibTorch modules, with
// torchvision's state-dict keys ("features.4.block.2.fc1.weight", "classifier.3.weight", ...) in
// torchvision's order. BatchNorm: partial(nn.BatchNorm2d, eps=0.001, momentum=0.01).
// reduced_tail and dilated (torchvision's segmentation backbones' options) are not offered.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/classifier.h"

namespace ptinfer::models {

// torchvision's InvertedResidualConfig (Tables 1 and 2 of the paper), channels already adjusted.
struct MobileNetV3BlockConfig {
  // The constructor rounds input/expanded/out channels by _make_divisible(c * width_mult, 8)
  // (InvertedResidualConfig.adjust_channels); `activation` is "RE" (ReLU) or "HS" (Hardswish),
  // anything else throws Error(kInvalidArgument).
  MobileNetV3BlockConfig(int64_t input_channels, int64_t kernel, int64_t expanded_channels,
                         int64_t out_channels, bool use_se, const std::string& activation,
                         int64_t stride, int64_t dilation, double width_mult);
  int64_t input_channels, kernel, expanded_channels, out_channels;
  bool use_se, use_hs;
  int64_t stride, dilation;
};

// torchvision's mobilenetv3.InvertedResidual: [1x1 expand ConvBNAct when expanded != input],
// depthwise kxk ConvBNAct (stride, or stride 1 and the dilation when dilation > 1), [SE with
// squeeze _make_divisible(expanded // 4, 8), ReLU then Hardsigmoid], 1x1 ConvBN; plus the input
// when stride == 1 and input == out channels. Act: Hardswish if use_hs, else ReLU. Child: block.
class MobileNetV3InvertedResidual : public torch::nn::Module {
 public:
  // Throws Error(kInvalidArgument) unless 1 <= stride <= 2.
  MobileNetV3InvertedResidual(const MobileNetV3BlockConfig& cnf, Init init);
  torch::Tensor forward(torch::Tensor x);
  bool use_res_connect() const { return use_res_connect_; }

 private:
  bool use_res_connect_;
  torch::nn::Sequential block_{nullptr};
};

struct MobileNetV3Options {
  std::vector<MobileNetV3BlockConfig> setting;  // torchvision's inverted_residual_setting
  int64_t last_channel = 1280;                  // the classifier's hidden width
  int64_t num_classes = 1000;
  double dropout = 0.2;
  Init init = Init::kTorchvision;
};

// torchvision's MobileNetV3. Children: features (Sequential: stem 3x3/2 ConvBNHardswish, the
// inverted residuals, 1x1 ConvBNHardswish to 6 * last block's channels), avgpool, classifier
// (Linear, Hardswish, Dropout, Linear). Initialised as torchvision: convs kaiming_normal_
// (fan_out) with zero bias, BN 1/0, Linear normal_(0, 0.01) with zero bias.
class MobileNetV3 : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for an empty setting, num_classes or last_channel < 1, or
  // dropout outside [0, 1].
  explicit MobileNetV3(const MobileNetV3Options& options);
  // x: [N, 3, H, W] (else Error(kInvalidArgument) naming the shape) -> logits [N, num_classes].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

// torchvision's _mobilenet_v3_conf(arch, width_mult) for "mobilenet_v3_large" and
// "mobilenet_v3_small": the setting and last_channel, in options with num_classes and init.
// Throws Error(kInvalidArgument) for another arch.
MobileNetV3Options mobilenet_v3_options(const std::string& arch, int64_t num_classes, Init init,
                                        double width_mult = 1.0);

std::shared_ptr<MobileNetV3> mobilenet_v3_large(int64_t num_classes,
                                                Init init = Init::kTorchvision);
std::shared_ptr<MobileNetV3> mobilenet_v3_small(int64_t num_classes,
                                                Init init = Init::kTorchvision);

}  // namespace ptinfer::models
