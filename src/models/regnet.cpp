#include "models/regnet.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <tuple>

#include "common/error.h"
#include "models/blocks/conv_norm_act.h"
#include "models/blocks/layers.h"
#include "models/blocks/nested_sequential.h"
#include "models/blocks/squeeze_excitation.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "RegNet options: " + message);
}

// Python's round() of a float to an int: half to even (nearbyint under the default rounding).
int64_t python_round(double v) { return static_cast<int64_t>(std::nearbyint(v)); }

// The builder's norm_layer: partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1).
constexpr BatchNormSpec kNorm{1e-5, 0.1};

// Conv2dNormActivation(in, out, kernel, stride, groups, norm_layer, activation_layer).
nn::Sequential conv_bn(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                       bool relu, Init init) {
  return conv_norm_act(
      ConvNormActOptions(in, out, kernel)
          .with_stride(stride)
          .with_groups(groups)
          .with_norm(kNorm)
          .with_activation(relu ? std::optional<ActivationKind>(ActivationKind::kReLU)
                                : std::nullopt),
      init);
}

// BottleneckTransform: a, b[, se], c as named children.
nn::Sequential bottleneck_transform(int64_t width_in, int64_t width_out, int64_t stride,
                                    int64_t group_width, double bottleneck_multiplier,
                                    std::optional<double> se_ratio, Init init) {
  const int64_t w_b = python_round(static_cast<double>(width_out) * bottleneck_multiplier);
  check_option(w_b >= 1 && group_width >= 1 && w_b % group_width == 0,
               "bottleneck width " + std::to_string(w_b) + " is not a positive multiple of " +
                   "group width " + std::to_string(group_width));
  const int64_t groups = w_b / group_width;
  nn::Sequential f;
  f->push_back("a", nested(conv_bn(width_in, w_b, 1, 1, 1, true, init)));
  f->push_back("b", nested(conv_bn(w_b, w_b, 3, stride, groups, true, init)));
  // Python's `if se_ratio:` (0.0 means none too); the SE width is relative to the block's input.
  if (se_ratio && *se_ratio != 0.0) {
    const int64_t width_se_out = python_round(*se_ratio * static_cast<double>(width_in));
    check_option(width_se_out >= 1, "squeeze-excitation width is 0");
    f->push_back("se", SqueezeExcitation(w_b, width_se_out, init, ActivationKind::kReLU));
  }
  f->push_back("c", nested(conv_bn(w_b, width_out, 1, 1, 1, false, init)));
  return f;
}

// AnyStage: `depth` blocks named "block<stage_index>-<i>" (nestable: trunk_output holds it).
NestedSequential any_stage(int64_t width_in, int64_t width_out, int64_t stride, int64_t depth,
                           int64_t group_width, double bottleneck_multiplier,
                           std::optional<double> se_ratio, int64_t stage_index, Init init) {
  NestedSequential stage;
  for (int64_t i = 0; i < depth; ++i) {
    stage->push_back(
        "block" + std::to_string(stage_index) + "-" + std::to_string(i),
        ResBottleneckBlock(i == 0 ? width_in : width_out, width_out, i == 0 ? stride : 1,
                           group_width, bottleneck_multiplier, se_ratio, init));
  }
  return stage;
}

// One row of torchvision's builders: BlockParams.from_init_params' arguments, and the file of
// the DEFAULT weights: IMAGENET1K_V2 (resize 232) for all but regnet_y_128gf, whose only
// ImageNet weights are SWAG's end-to-end fine-tuned ones (384, bicubic).
struct RegNetConfig {
  const char* arch;
  int64_t depth;
  int64_t w_0;
  double w_a;
  double w_m;
  int64_t group_width;
  std::optional<double> se_ratio;
  const char* pretrained_file;
};

// clang-format off
const std::vector<RegNetConfig>& configs() {
  static const std::vector<RegNetConfig> kConfigs = {
      {"regnet_y_400mf", 16, 48, 27.89, 2.09, 8, 0.25, "regnet_y_400mf-e6988f5f.pth"},
      {"regnet_y_800mf", 14, 56, 38.84, 2.4, 16, 0.25, "regnet_y_800mf-58fc7688.pth"},
      {"regnet_y_1_6gf", 27, 48, 20.71, 2.65, 24, 0.25, "regnet_y_1_6gf-0d7bc02a.pth"},
      {"regnet_y_3_2gf", 21, 80, 42.63, 2.66, 24, 0.25, "regnet_y_3_2gf-9180c971.pth"},
      {"regnet_y_8gf", 17, 192, 76.82, 2.19, 56, 0.25, "regnet_y_8gf-dc2b1b54.pth"},
      {"regnet_y_16gf", 18, 200, 106.23, 2.48, 112, 0.25, "regnet_y_16gf-3e4a00f9.pth"},
      {"regnet_y_32gf", 20, 232, 115.89, 2.53, 232, 0.25, "regnet_y_32gf-8db6d4b5.pth"},
      {"regnet_y_128gf", 27, 456, 160.83, 2.52, 264, 0.25, "regnet_y_128gf_swag-c8ce3e52.pth"},
      {"regnet_x_400mf", 22, 24, 24.48, 2.54, 16, std::nullopt, "regnet_x_400mf-62229a5f.pth"},
      {"regnet_x_800mf", 16, 56, 35.73, 2.28, 16, std::nullopt, "regnet_x_800mf-94a99ebd.pth"},
      {"regnet_x_1_6gf", 18, 80, 34.01, 2.25, 24, std::nullopt, "regnet_x_1_6gf-a12f2b72.pth"},
      {"regnet_x_3_2gf", 25, 88, 26.31, 2.25, 48, std::nullopt, "regnet_x_3_2gf-7071aa85.pth"},
      {"regnet_x_8gf", 23, 80, 49.56, 2.88, 120, std::nullopt, "regnet_x_8gf-2b70d774.pth"},
      {"regnet_x_16gf", 22, 216, 55.59, 2.1, 128, std::nullopt, "regnet_x_16gf-ba3796d7.pth"},
      {"regnet_x_32gf", 23, 320, 69.86, 2.0, 168, std::nullopt, "regnet_x_32gf-6eb8fdc6.pth"},
  };
  return kConfigs;
}
// clang-format on

}  // namespace

RegNetBlockParams RegNetBlockParams::from_init_params(int64_t depth, int64_t w_0, double w_a,
                                                      double w_m, int64_t group_width,
                                                      double bottleneck_multiplier,
                                                      std::optional<double> se_ratio) {
  constexpr int64_t kQuant = 8;
  constexpr int64_t kStride = 2;
  if (depth < 1 || w_a < 0 || w_0 <= 0 || w_m <= 1 || w_0 % 8 != 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "Invalid RegNet settings: depth " + std::to_string(depth) + ", w_0 " +
                    std::to_string(w_0) + ", w_a " + std::to_string(w_a) + ", w_m " +
                    std::to_string(w_m));
  }
  // torchvision's tensor arithmetic, op for op: arange is int64 and the Python-float factor
  // makes it float32, so every step below is a float32 kernel, as in torchvision.
  torch::NoGradGuard no_grad;
  const torch::Tensor widths_cont = torch::arange(depth) * w_a + w_0;
  const torch::Tensor block_capacity = torch::round(torch::log(widths_cont / w_0) / std::log(w_m));
  const torch::Tensor quantised =
      torch::round(torch::divide(torch::pow(w_m, block_capacity) * w_0, kQuant)) * kQuant;
  const torch::Tensor as_int = quantised.to(torch::kInt).contiguous();
  const std::vector<int64_t> block_widths(as_int.data_ptr<int32_t>(),
                                          as_int.data_ptr<int32_t>() + as_int.numel());
  const size_t num_stages = std::set<int64_t>(block_widths.begin(), block_widths.end()).size();

  // A stage starts wherever the width changes (and at the end, the sentinel 0).
  std::vector<int64_t> stage_widths, starts;
  for (size_t d = 0; d <= block_widths.size(); ++d) {
    const int64_t w = d < block_widths.size() ? block_widths[d] : 0;
    const int64_t previous = d == 0 ? 0 : block_widths[d - 1];
    if (w == previous) continue;
    if (d < block_widths.size()) stage_widths.push_back(w);
    starts.push_back(static_cast<int64_t>(d));
  }
  RegNetBlockParams params;
  for (size_t i = 1; i < starts.size(); ++i) params.depths.push_back(starts[i] - starts[i - 1]);
  params.strides.assign(num_stages, kStride);
  params.bottleneck_multipliers.assign(num_stages, bottleneck_multiplier);
  std::tie(params.widths, params.group_widths) = adjust_widths_groups_compatibility(
      stage_widths, params.bottleneck_multipliers, std::vector<int64_t>(num_stages, group_width));
  params.se_ratio = se_ratio;
  return params;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> adjust_widths_groups_compatibility(
    const std::vector<int64_t>& stage_widths, const std::vector<double>& bottleneck_ratios,
    const std::vector<int64_t>& group_widths) {
  const size_t n = std::min({stage_widths.size(), bottleneck_ratios.size(), group_widths.size()});
  std::vector<int64_t> widths, group_widths_min;
  for (size_t i = 0; i < n; ++i) {
    // int(w * b), min(g, w_bot), _make_divisible(w_bot, g), int(w_bot / b): Python floats,
    // truncated by int().
    const auto w_bot =
        static_cast<int64_t>(static_cast<double>(stage_widths[i]) * bottleneck_ratios[i]);
    const int64_t g = std::min(group_widths[i], w_bot);
    check_option(g >= 1, "a stage's bottleneck width is 0");
    const int64_t adjusted = make_divisible(static_cast<double>(w_bot), g);
    widths.push_back(static_cast<int64_t>(static_cast<double>(adjusted) / bottleneck_ratios[i]));
    group_widths_min.push_back(g);
  }
  return {widths, group_widths_min};
}

ResBottleneckBlockImpl::ResBottleneckBlockImpl(int64_t width_in, int64_t width_out, int64_t stride,
                                               int64_t group_width, double bottleneck_multiplier,
                                               std::optional<double> se_ratio, Init init) {
  check_option(width_in >= 1 && width_out >= 1 && stride >= 1,
               "block widths and stride must be >= 1, got " + std::to_string(width_in) + " -> " +
                   std::to_string(width_out) + ", stride " + std::to_string(stride));
  // A projection shortcut whenever the shape changes.
  if (width_in != width_out || stride != 1) {
    proj_ = register_module("proj", conv_bn(width_in, width_out, 1, stride, 1, false, init));
  }
  f_ = register_module("f", bottleneck_transform(width_in, width_out, stride, group_width,
                                                 bottleneck_multiplier, se_ratio, init));
  activation_ = register_module("activation", Activation(ActivationKind::kReLU));
}

torch::Tensor ResBottleneckBlockImpl::forward(const torch::Tensor& x) {
  // Out of place (torchvision's ReLU is inplace=True: the same numbers), for autograd.
  if (proj_) return activation_(proj_->forward(x) + f_->forward(x));
  return activation_(x + f_->forward(x));
}

RegNet::RegNet(const RegNetBlockParams& block_params, int64_t num_classes, Init init,
               int64_t stem_width)
    : block_params_(block_params) {
  check_option(num_classes >= 1, "num_classes must be >= 1, got " + std::to_string(num_classes));
  check_option(stem_width >= 1, "stem_width must be >= 1, got " + std::to_string(stem_width));
  const auto& p = block_params;
  // _get_expanded_params zips the lists: as many stages as the shortest.
  const size_t num_stages = std::min({p.widths.size(), p.strides.size(), p.depths.size(),
                                      p.group_widths.size(), p.bottleneck_multipliers.size()});
  check_option(num_stages >= 1, "no stages");

  stem_ = register_module("stem", conv_bn(3, stem_width, 3, 2, 1, true, init));
  int64_t current_width = stem_width;
  nn::Sequential trunk;
  for (size_t i = 0; i < num_stages; ++i) {
    check_option(p.depths[i] >= 1, "every stage needs at least one block");
    const auto stage_index = static_cast<int64_t>(i + 1);
    trunk->push_back(
        "block" + std::to_string(stage_index),
        any_stage(current_width, p.widths[i], p.strides[i], p.depths[i], p.group_widths[i],
                  p.bottleneck_multipliers[i], p.se_ratio, stage_index, init));
    current_width = p.widths[i];
  }
  trunk_output_ = register_module("trunk_output", trunk);
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  fc_ = register_module("fc", make_linear(nn::LinearOptions(current_width, num_classes), init));

  if (init == Init::kSkip) return;
  // torchvision's "ResNet-style" initialisation.
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      const auto& k = *conv->options.kernel_size();
      const double fan_out = static_cast<double>(k[0] * k[1] * conv->options.out_channels());
      nn::init::normal_(conv->weight, 0.0, std::sqrt(2.0 / fan_out));
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* fc = module->as<nn::Linear>()) {
      nn::init::normal_(fc->weight, 0.0, 0.01);
      nn::init::zeros_(fc->bias);
    }
  }
}

torch::Tensor RegNet::forward(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != 3) {
    std::ostringstream shape;
    shape << x.sizes();
    throw Error(ErrorKind::kInvalidArgument,
                "RegNet input must have shape [N, 3, H, W], got " + shape.str());
  }
  x = trunk_output_->forward(stem_->forward(x));
  x = torch::flatten(avgpool_(x), 1);
  return fc_(x);
}

RegNetBlockParams regnet_block_params(const std::string& arch) {
  for (const RegNetConfig& c : configs()) {
    if (arch == c.arch) {
      return RegNetBlockParams::from_init_params(c.depth, c.w_0, c.w_a, c.w_m, c.group_width, 1.0,
                                                 c.se_ratio);
    }
  }
  throw Error(ErrorKind::kNotFound, "no RegNet configuration '" + arch + "'");
}

std::vector<ArchSpec> regnet_archs() {
  std::vector<ArchSpec> specs;
  for (const RegNetConfig& config : configs()) {
    ArchSpec spec;
    spec.name = config.arch;
    spec.family = "regnet";
    const std::string arch = config.arch;
    spec.factory = [arch](const ModelConfig& c) {
      return std::make_shared<RegNet>(regnet_block_params(arch), c.num_classes, c.init);
    };
    spec.pretrained_file = config.pretrained_file;
    spec.head_weight_key = "fc.weight";
    if (arch == "regnet_y_128gf") {
      spec.preset.resize_size = 384;
      spec.preset.crop_size = 384;
      spec.preset.interpolation = "bicubic";
    } else {
      spec.preset.resize_size = 232;
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace ptinfer::models
