// torchvision 0.14's RegNet family (torchvision/models/regnet.py) as LibTorch modules, with
// torchvision's attribute names and registration order, so the state-dict keys
// ("stem.0.weight", "trunk_output.block1.block1-0.proj.1.running_mean",
// "trunk_output.block2.block2-1.f.se.fc1.bias", "fc.weight", ...) and their order are
// torchvision's and torchvision checkpoints load unchanged. BatchNorm: eps 1e-5, momentum 0.1
// (the builder's partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1)); activation ReLU.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/blocks/activation.h"
#include "models/classifier.h"

namespace ptinfer::models {

// torchvision's BlockParams: the per-stage settings of a RegNet (every stage has stride 2).
struct RegNetBlockParams {
  std::vector<int64_t> depths;
  std::vector<int64_t> widths;
  std::vector<int64_t> group_widths;
  std::vector<double> bottleneck_multipliers;
  std::vector<int64_t> strides;
  std::optional<double> se_ratio;  // nullopt: no squeeze-excitation (RegNetX)

  // BlockParams.from_init_params: the quantised linear widths w_0 + w_a * i of `depth` blocks,
  // stepped in log space by w_m and rounded to multiples of 8, computed with torchvision's
  // float32 tensor ops (LibTorch's same kernels), grouped into stages of equal width, then made
  // compatible with the group widths (adjust_widths_groups_compatibility). Throws
  // Error(kInvalidArgument) for depth < 1, w_a < 0, w_0 <= 0, w_m <= 1 or w_0 % 8 != 0
  // ("Invalid RegNet settings", as torchvision's ValueError).
  static RegNetBlockParams from_init_params(int64_t depth, int64_t w_0, double w_a, double w_m,
                                            int64_t group_width, double bottleneck_multiplier = 1.0,
                                            std::optional<double> se_ratio = std::nullopt);
};

// BlockParams._adjust_widths_groups_compatibilty: each stage's bottleneck width
// int(width * ratio), its group width min(group_width, that), the bottleneck width rounded by
// _make_divisible to a multiple of the group width, and the stage width int(that / ratio).
// Returns {stage widths, group widths}; the lists are as long as the shortest input (Python's
// zip).
std::pair<std::vector<int64_t>, std::vector<int64_t>> adjust_widths_groups_compatibility(
    const std::vector<int64_t>& stage_widths, const std::vector<double>& bottleneck_ratios,
    const std::vector<int64_t>& group_widths);

// torchvision's ResBottleneckBlock: activation(proj(x) + f(x)), or activation(x + f(x)) when
// width and resolution are kept. Children: proj (only when width_in != width_out or
// stride != 1: Conv2dNormActivation 1x1(stride) + BN, no activation), f (BottleneckTransform:
// a Sequential of a = 1x1 conv-BN-ReLU to w_b = int(round(width_out * bottleneck_multiplier)),
// b = 3x3(stride) grouped conv-BN-ReLU with w_b / group_width groups, se = SqueezeExcitation(w_b,
// int(round(se_ratio * width_in))) when se_ratio is set, c = 1x1 conv-BN to width_out),
// activation (ReLU).
class ResBottleneckBlockImpl : public torch::nn::Module {
 public:
  // Throws Error(kInvalidArgument) for non-positive widths or stride, or a group width that
  // does not divide w_b.
  ResBottleneckBlockImpl(int64_t width_in, int64_t width_out, int64_t stride, int64_t group_width,
                         double bottleneck_multiplier, std::optional<double> se_ratio, Init init);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential proj_{nullptr}, f_{nullptr};
  Activation activation_{nullptr};
};
TORCH_MODULE(ResBottleneckBlock);

// torchvision's RegNet. Children: stem (SimpleStemIN: 3x3 stride-2 conv-BN-ReLU to
// stem_width), trunk_output (a Sequential of stages "block1", "block2", ..., each an AnyStage:
// a Sequential of ResBottleneckBlocks "block<stage>-0", "block<stage>-1", ..., the first with
// the stage's stride and the width change), avgpool, fc. Initialised as torchvision: conv
// weights normal_(0, sqrt(2 / (kh * kw * out_channels))) (SE biases keep the layer default),
// BN weight 1 and bias 0, fc weight normal_(0, 0.01) and bias 0.
class RegNet : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for num_classes < 1, stem_width < 1, block params whose
  // lists are empty or hold a non-positive entry, or what ResBottleneckBlock throws.
  RegNet(const RegNetBlockParams& block_params, int64_t num_classes, Init init,
         int64_t stem_width = 32);
  // x: [N, 3, H, W] float -> logits [N, num_classes]. Throws Error(kInvalidArgument) naming
  // the shape for any other.
  torch::Tensor forward(torch::Tensor x) override;
  const RegNetBlockParams& block_params() const { return block_params_; }

 private:
  RegNetBlockParams block_params_;
  torch::nn::Sequential stem_{nullptr}, trunk_output_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

// The block params of torchvision's builder `arch` ("regnet_x_400mf", ..., "regnet_y_128gf").
// Throws Error(kNotFound) for another name.
RegNetBlockParams regnet_block_params(const std::string& arch);

}  // namespace ptinfer::models
