#include "models/mobilenet_v3.h"

#include <string>
#include <utility>

#include "common/error.h"
#include "models/blocks/conv_norm_act.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/blocks/nested_sequential.h"
#include "models/blocks/squeeze_excitation.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

// partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
constexpr BatchNormSpec kNorm{0.001, 0.01};

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "MobileNetV3 options: " + message);
}

int64_t adjust_channels(int64_t channels, double width_mult) {
  return make_divisible(static_cast<double>(channels) * width_mult, 8);
}

}  // namespace

MobileNetV3BlockConfig::MobileNetV3BlockConfig(int64_t input_channels, int64_t kernel,
                                               int64_t expanded_channels, int64_t out_channels,
                                               bool use_se, const std::string& activation,
                                               int64_t stride, int64_t dilation, double width_mult)
    : input_channels(adjust_channels(input_channels, width_mult)),
      kernel(kernel),
      expanded_channels(adjust_channels(expanded_channels, width_mult)),
      out_channels(adjust_channels(out_channels, width_mult)),
      use_se(use_se),
      use_hs(activation == "HS"),
      stride(stride),
      dilation(dilation) {
  if (activation != "HS" && activation != "RE") {
    throw Error(
        ErrorKind::kInvalidArgument,
        "MobileNetV3 block activation must be \"RE\" or \"HS\", got \"" + activation + "\"");
  }
}

MobileNetV3InvertedResidual::MobileNetV3InvertedResidual(const MobileNetV3BlockConfig& cnf,
                                                         Init init)
    : use_res_connect_(cnf.stride == 1 && cnf.input_channels == cnf.out_channels) {
  if (cnf.stride < 1 || cnf.stride > 2) {
    throw Error(ErrorKind::kInvalidArgument,
                "MobileNetV3 InvertedResidual: illegal stride value " + std::to_string(cnf.stride));
  }
  const ActivationKind act = cnf.use_hs ? ActivationKind::kHardswish : ActivationKind::kReLU;
  nn::Sequential layers;
  if (cnf.expanded_channels != cnf.input_channels) {  // expand
    layers->push_back(
        nested_conv_norm_act(ConvNormActOptions(cnf.input_channels, cnf.expanded_channels, 1)
                                 .with_norm(kNorm)
                                 .with_activation(act),
                             init));
  }
  layers->push_back(  // depthwise
      nested_conv_norm_act(
          ConvNormActOptions(cnf.expanded_channels, cnf.expanded_channels, cnf.kernel)
              .with_stride(cnf.dilation > 1 ? 1 : cnf.stride)
              .with_dilation(cnf.dilation)
              .with_groups(cnf.expanded_channels)
              .with_norm(kNorm)
              .with_activation(act),
          init));
  if (cnf.use_se) {
    const int64_t squeeze = make_divisible(static_cast<double>(cnf.expanded_channels / 4), 8);
    layers->push_back(SqueezeExcitation(cnf.expanded_channels, squeeze, init, ActivationKind::kReLU,
                                        ActivationKind::kHardsigmoid));
  }
  layers->push_back(  // project
      nested_conv_norm_act(ConvNormActOptions(cnf.expanded_channels, cnf.out_channels, 1)
                               .with_norm(kNorm)
                               .with_activation(std::nullopt),
                           init));
  block_ = register_module("block", layers);
}

torch::Tensor MobileNetV3InvertedResidual::forward(torch::Tensor x) {
  torch::Tensor result = block_->forward(x);
  // In place as torchvision: result is a BatchNorm's output, which its backward does not need.
  if (use_res_connect_) result += x;
  return result;
}

MobileNetV3::MobileNetV3(const MobileNetV3Options& options) {
  check_option(!options.setting.empty(), "the inverted residual setting should not be empty");
  check_option(options.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(options.num_classes));
  check_option(options.last_channel >= 1,
               "last_channel must be >= 1, got " + std::to_string(options.last_channel));
  check_option(options.dropout >= 0.0 && options.dropout <= 1.0,
               "dropout must be in [0, 1], got " + std::to_string(options.dropout));
  const Init init = options.init;
  nn::Sequential layers;
  layers->push_back(
      nested_conv_norm_act(ConvNormActOptions(3, options.setting.front().input_channels, 3)
                               .with_stride(2)
                               .with_norm(kNorm)
                               .with_activation(ActivationKind::kHardswish),
                           init));
  for (const auto& cnf : options.setting) {
    layers->push_back(std::make_shared<MobileNetV3InvertedResidual>(cnf, init));
  }
  const int64_t lastconv_input = options.setting.back().out_channels;
  const int64_t lastconv_output = 6 * lastconv_input;
  layers->push_back(nested_conv_norm_act(ConvNormActOptions(lastconv_input, lastconv_output, 1)
                                             .with_norm(kNorm)
                                             .with_activation(ActivationKind::kHardswish),
                                         init));
  features_ = register_module("features", layers);
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  classifier_ = register_module(
      "classifier",
      nn::Sequential(
          make_linear(nn::LinearOptions(lastconv_output, options.last_channel), init),
          Activation(ActivationKind::kHardswish), nn::Dropout(nn::DropoutOptions(options.dropout)),
          make_linear(nn::LinearOptions(options.last_channel, options.num_classes), init)));

  if (init == Init::kSkip) return;
  init_like_torchvision(*this, /*linear_std=*/0.01);
}

torch::Tensor MobileNetV3::forward(torch::Tensor x) {
  check_image_batch(x, "MobileNetV3");
  x = torch::flatten(avgpool_(features_->forward(x)), 1);
  return classifier_->forward(x);
}

MobileNetV3Options mobilenet_v3_options(const std::string& arch, int64_t num_classes, Init init,
                                        double width_mult) {
  auto bneck = [width_mult](int64_t in, int64_t kernel, int64_t expanded, int64_t out, bool se,
                            const char* act, int64_t stride) {
    return MobileNetV3BlockConfig(in, kernel, expanded, out, se, act, stride, 1, width_mult);
  };
  MobileNetV3Options options;
  options.num_classes = num_classes;
  options.init = init;
  if (arch == "mobilenet_v3_large") {
    options.setting = {
        bneck(16, 3, 16, 16, false, "RE", 1),   bneck(16, 3, 64, 24, false, "RE", 2),  // C1
        bneck(24, 3, 72, 24, false, "RE", 1),   bneck(24, 5, 72, 40, true, "RE", 2),   // C2
        bneck(40, 5, 120, 40, true, "RE", 1),   bneck(40, 5, 120, 40, true, "RE", 1),
        bneck(40, 3, 240, 80, false, "HS", 2),  // C3
        bneck(80, 3, 200, 80, false, "HS", 1),  bneck(80, 3, 184, 80, false, "HS", 1),
        bneck(80, 3, 184, 80, false, "HS", 1),  bneck(80, 3, 480, 112, true, "HS", 1),
        bneck(112, 3, 672, 112, true, "HS", 1), bneck(112, 5, 672, 160, true, "HS", 2),  // C4
        bneck(160, 5, 960, 160, true, "HS", 1), bneck(160, 5, 960, 160, true, "HS", 1),
    };
    options.last_channel = adjust_channels(1280, width_mult);  // C5
  } else if (arch == "mobilenet_v3_small") {
    options.setting = {
        bneck(16, 3, 16, 16, true, "RE", 2),                                        // C1
        bneck(16, 3, 72, 24, false, "RE", 2),                                       // C2
        bneck(24, 3, 88, 24, false, "RE", 1), bneck(24, 5, 96, 40, true, "HS", 2),  // C3
        bneck(40, 5, 240, 40, true, "HS", 1), bneck(40, 5, 240, 40, true, "HS", 1),
        bneck(40, 5, 120, 48, true, "HS", 1), bneck(48, 5, 144, 48, true, "HS", 1),
        bneck(48, 5, 288, 96, true, "HS", 2),  // C4
        bneck(96, 5, 576, 96, true, "HS", 1), bneck(96, 5, 576, 96, true, "HS", 1),
    };
    options.last_channel = adjust_channels(1024, width_mult);  // C5
  } else {
    throw Error(ErrorKind::kInvalidArgument, "unsupported MobileNetV3 model type '" + arch + "'");
  }
  return options;
}

std::shared_ptr<MobileNetV3> mobilenet_v3_large(int64_t num_classes, Init init) {
  return std::make_shared<MobileNetV3>(
      mobilenet_v3_options("mobilenet_v3_large", num_classes, init));
}

std::shared_ptr<MobileNetV3> mobilenet_v3_small(int64_t num_classes, Init init) {
  return std::make_shared<MobileNetV3>(
      mobilenet_v3_options("mobilenet_v3_small", num_classes, init));
}

std::vector<ArchSpec> mobilenet_v3_archs() {
  auto row = [](const char* name, const char* file, int64_t resize) {
    ArchSpec spec;
    spec.name = name;
    spec.family = "mobilenet_v3";
    const std::string arch = name;
    spec.factory = [arch](const ModelConfig& c) {
      return std::make_shared<MobileNetV3>(mobilenet_v3_options(arch, c.num_classes, c.init));
    };
    spec.pretrained_file = file;
    spec.head_weight_key = "classifier.3.weight";
    spec.preset.resize_size = resize;
    return spec;
  };
  return {
      row("mobilenet_v3_large", "mobilenet_v3_large-5c1a4163.pth", 232),  // IMAGENET1K_V2
      row("mobilenet_v3_small", "mobilenet_v3_small-047dcff4.pth", 256),
  };
}

}  // namespace ptinfer::models
