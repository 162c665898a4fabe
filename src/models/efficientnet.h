// torchvision 0.14's EfficientNet B0-B7 and EfficientNetV2 S/M/L (torchvision/models/
// efficientnet.py) as LibTorch modules, with torchvision's state-dict keys ("features.2.1.block.
// 2.fc1.weight", "classifier.1.weight", ...) in torchvision's order. One builder reads a table of
// MBConvConfig / FusedMBConvConfig rows (efficientnet_options), as torchvision does.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/blocks/conv_norm_act.h"
#include "models/blocks/stochastic_depth.h"
#include "models/classifier.h"

namespace ptinfer::models {

enum class MBConvKind { kMBConv, kFusedMBConv };

// torchvision's MBConvConfig / FusedMBConvConfig: one stage of num_layers blocks, channels and
// depth already scaled.
struct MBConvConfig {
  MBConvKind block = MBConvKind::kMBConv;
  double expand_ratio = 1.0;
  int64_t kernel = 3;
  int64_t stride = 1;
  int64_t input_channels = 0;
  int64_t out_channels = 0;
  int64_t num_layers = 1;
};

// MBConvConfig(expand_ratio, kernel, stride, input, out, num_layers, width_mult, depth_mult):
// channels _make_divisible(c * width_mult, 8), layers int(math.ceil(num_layers * depth_mult)).
MBConvConfig mbconv_config(double expand_ratio, int64_t kernel, int64_t stride,
                           int64_t input_channels, int64_t out_channels, int64_t num_layers,
                           double width_mult = 1.0, double depth_mult = 1.0);
// FusedMBConvConfig(expand_ratio, kernel, stride, input, out, num_layers): no scaling.
MBConvConfig fused_mbconv_config(double expand_ratio, int64_t kernel, int64_t stride,
                                 int64_t input_channels, int64_t out_channels, int64_t num_layers);

// torchvision's MBConv: [1x1 expand ConvBNSiLU to _make_divisible(input * expand_ratio, 8) when
// that differs from input], kxk depthwise ConvBNSiLU (stride), SqueezeExcitation (squeeze
// max(1, input // 4), SiLU, Sigmoid), 1x1 ConvBN; with stride 1 and input == out channels,
// StochasticDepth(p, "row") of that plus the input. Children: block, stochastic_depth.
class MBConv : public torch::nn::Module {
 public:
  // Throws Error(kInvalidArgument) unless 1 <= stride <= 2 (and as StochasticDepth for p).
  MBConv(const MBConvConfig& cnf, double stochastic_depth_prob, const BatchNormSpec& norm,
         Init init);
  torch::Tensor forward(torch::Tensor x);

 private:
  bool use_res_connect_;
  torch::nn::Sequential block_{nullptr};
  StochasticDepth stochastic_depth_{nullptr};
};

// torchvision's FusedMBConv (EfficientNetV2): with expansion, a kxk ConvBNSiLU (stride) to the
// expanded channels then a 1x1 ConvBN; without, one kxk ConvBNSiLU (stride). Residual and
// stochastic depth as MBConv. Children: block, stochastic_depth.
class FusedMBConv : public torch::nn::Module {
 public:
  FusedMBConv(const MBConvConfig& cnf, double stochastic_depth_prob, const BatchNormSpec& norm,
              Init init);
  torch::Tensor forward(torch::Tensor x);

 private:
  bool use_res_connect_;
  torch::nn::Sequential block_{nullptr};
  StochasticDepth stochastic_depth_{nullptr};
};

struct EfficientNetOptions {
  std::vector<MBConvConfig> setting;   // torchvision's inverted_residual_setting
  double dropout = 0.2;                // before the classifier's Linear (training only)
  double stochastic_depth_prob = 0.2;  // block i of n gets p * i / n
  int64_t num_classes = 1000;
  BatchNormSpec norm;                   // torchvision's norm_layer partial
  std::optional<int64_t> last_channel;  // default 4 * the last stage's out channels
  Init init = Init::kTorchvision;
};

// torchvision's EfficientNet. Children: features (Sequential: stem 3x3/2 ConvBNSiLU, one
// Sequential of blocks per stage, 1x1 ConvBNSiLU to last_channel), avgpool, classifier
// (Dropout, Linear). Initialised as torchvision: convs kaiming_normal_(fan_out) with zero bias,
// BN 1/0, Linear uniform_(+-1/sqrt(out_features)) with zero bias.
class EfficientNet : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for an empty setting, a stage with no layers, num_classes <
  // 1, dropout or stochastic_depth_prob outside [0, 1].
  explicit EfficientNet(const EfficientNetOptions& options);
  // x: [N, 3, H, W] (else Error(kInvalidArgument) naming the shape) -> logits [N, num_classes].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

// What torchvision.models.<arch>(num_classes=...) builds, for arch efficientnet_b0 ... _b7,
// efficientnet_v2_s, _m, _l: _efficientnet_conf's setting and last_channel, and the builder's
// dropout and norm_layer. Throws Error(kInvalidArgument) for another arch.
EfficientNetOptions efficientnet_options(const std::string& arch, int64_t num_classes, Init init);

std::shared_ptr<EfficientNet> efficientnet(const std::string& arch, int64_t num_classes,
                                           Init init = Init::kTorchvision);

}  // namespace ptinfer::models
