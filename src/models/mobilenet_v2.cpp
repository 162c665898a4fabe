#include "models/mobilenet_v2.h"

#include <array>
#include <string>

#include "common/error.h"
#include "models/blocks/conv_norm_act.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/blocks/nested_sequential.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "MobileNetV2 options: " + message);
}

// torchvision's inverted_residual_setting: expansion t, channels c, repeats n, first stride s.
struct StageConfig {
  int64_t t, c, n, s;
};
constexpr std::array<StageConfig, 7> kSetting = {{
    {1, 16, 1, 1},
    {6, 24, 2, 2},
    {6, 32, 3, 2},
    {6, 64, 4, 2},
    {6, 96, 3, 1},
    {6, 160, 3, 2},
    {6, 320, 1, 1},
}};

ConvNormActOptions relu6_conv(int64_t in, int64_t out, int64_t kernel) {
  return ConvNormActOptions(in, out, kernel).with_activation(ActivationKind::kReLU6);
}

}  // namespace

MobileNetV2InvertedResidual::MobileNetV2InvertedResidual(int64_t inp, int64_t oup, int64_t stride,
                                                         int64_t expand_ratio, Init init)
    : use_res_connect_(stride == 1 && inp == oup) {
  if (stride != 1 && stride != 2) {
    throw Error(
        ErrorKind::kInvalidArgument,
        "MobileNetV2 InvertedResidual: stride should be 1 or 2, got " + std::to_string(stride));
  }
  if (expand_ratio < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "MobileNetV2 InvertedResidual: expand_ratio must be >= 1, got " +
                    std::to_string(expand_ratio));
  }
  // int(round(inp * expand_ratio)) of integers: the product.
  const int64_t hidden = inp * expand_ratio;
  nn::Sequential layers;
  if (expand_ratio != 1) {  // pw
    layers->push_back(nested_conv_norm_act(relu6_conv(inp, hidden, 1), init));
  }
  // dw
  layers->push_back(nested_conv_norm_act(
      relu6_conv(hidden, hidden, 3).with_stride(stride).with_groups(hidden), init));
  // pw-linear
  layers->push_back(make_conv(nn::Conv2dOptions(hidden, oup, 1).bias(false), init));
  layers->push_back(make_batch_norm(oup));
  conv_ = register_module("conv", layers);
}

torch::Tensor MobileNetV2InvertedResidual::forward(torch::Tensor x) {
  if (use_res_connect_) return x + conv_->forward(x);
  return conv_->forward(x);
}

MobileNetV2::MobileNetV2(const MobileNetV2Options& options) {
  check_option(options.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(options.num_classes));
  check_option(options.width_mult > 0.0,
               "width_mult must be > 0, got " + std::to_string(options.width_mult));
  check_option(options.round_nearest >= 1,
               "round_nearest must be >= 1, got " + std::to_string(options.round_nearest));
  check_option(options.dropout >= 0.0 && options.dropout <= 1.0,
               "dropout must be in [0, 1], got " + std::to_string(options.dropout));
  const Init init = options.init;
  const double width = options.width_mult;
  int64_t input_channel = make_divisible(32 * width, options.round_nearest);
  const int64_t last_channel = make_divisible(1280 * std::max(1.0, width), options.round_nearest);

  nn::Sequential features;
  features->push_back(nested_conv_norm_act(relu6_conv(3, input_channel, 3).with_stride(2), init));
  for (const StageConfig& stage : kSetting) {
    const int64_t output_channel =
        make_divisible(static_cast<double>(stage.c) * width, options.round_nearest);
    for (int64_t i = 0; i < stage.n; ++i) {
      features->push_back(std::make_shared<MobileNetV2InvertedResidual>(
          input_channel, output_channel, i == 0 ? stage.s : 1, stage.t, init));
      input_channel = output_channel;
    }
  }
  features->push_back(nested_conv_norm_act(relu6_conv(input_channel, last_channel, 1), init));
  features_ = register_module("features", features);
  classifier_ = register_module(
      "classifier",
      nn::Sequential(nn::Dropout(nn::DropoutOptions(options.dropout)),
                     make_linear(nn::LinearOptions(last_channel, options.num_classes), init)));

  if (init == Init::kSkip) return;
  init_like_torchvision(*this, /*linear_std=*/0.01);
}

torch::Tensor MobileNetV2::forward(torch::Tensor x) {
  check_image_batch(x, "MobileNetV2");
  x = features_->forward(x);
  x = torch::flatten(torch::adaptive_avg_pool2d(x, {1, 1}), 1);
  return classifier_->forward(x);
}

std::shared_ptr<MobileNetV2> mobilenet_v2(int64_t num_classes, Init init) {
  MobileNetV2Options options;
  options.num_classes = num_classes;
  options.init = init;
  return std::make_shared<MobileNetV2>(options);
}

std::vector<ArchSpec> mobilenet_v2_archs() {
  ArchSpec spec;
  spec.name = "mobilenet_v2";
  spec.family = "mobilenet_v2";
  spec.factory = [](const ModelConfig& c) { return mobilenet_v2(c.num_classes, c.init); };
  spec.pretrained_file = "mobilenet_v2-7ebf99e0.pth";  // IMAGENET1K_V2
  spec.head_weight_key = "classifier.1.weight";
  spec.preset.resize_size = 232;
  return {spec};
}

}  // namespace ptinfer::models
