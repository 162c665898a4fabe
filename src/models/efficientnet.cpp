#include "models/efficientnet.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "common/error.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/blocks/nested_sequential.h"
#include "models/blocks/squeeze_excitation.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

// _MBConvConfig.adjust_channels: _make_divisible(channels * width_mult, 8), a Python float.
int64_t adjust_channels(int64_t channels, double width_mult) {
  return make_divisible(static_cast<double>(channels) * width_mult, 8);
}

// MBConvConfig.adjust_depth: int(math.ceil(num_layers * depth_mult)).
int64_t adjust_depth(int64_t num_layers, double depth_mult) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(num_layers) * depth_mult));
}

void check_stride(const MBConvConfig& cnf, const char* block) {
  if (cnf.stride < 1 || cnf.stride > 2) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(block) + ": illegal stride value " + std::to_string(cnf.stride));
  }
}

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "EfficientNet options: " + message);
}

ConvNormActOptions silu_conv(int64_t in, int64_t out, int64_t kernel, const BatchNormSpec& norm) {
  return ConvNormActOptions(in, out, kernel).with_norm(norm).with_activation(ActivationKind::kSiLU);
}

ConvNormActOptions linear_conv(int64_t in, int64_t out, const BatchNormSpec& norm) {
  return ConvNormActOptions(in, out, 1).with_norm(norm).with_activation(std::nullopt);
}

// The residual of MBConv and FusedMBConv: in place as torchvision (result is a BatchNorm's or
// the stochastic depth product's output, neither of which their backward needs).
torch::Tensor residual(torch::Tensor result, const torch::Tensor& input, bool use_res_connect,
                       StochasticDepth& stochastic_depth) {
  if (!use_res_connect) return result;
  result = stochastic_depth(result);
  result += input;
  return result;
}

// One architecture of the family: the builder's arguments and its DEFAULT weights' facts.
struct Variant {
  const char* name;
  double width_mult, depth_mult;  // B0-B7 only
  double dropout;
  BatchNormSpec norm;
  const char* file;
  int64_t resize, crop;
  const char* interpolation;
  bool half_mean_std;  // mean = std = 0.5 (v2_l) instead of ImageNet's
};

constexpr BatchNormSpec kDefaultNorm{1e-5, 0.1};  // nn.BatchNorm2d
constexpr BatchNormSpec kB5ToB7Norm{1e-3, 0.01};  // B5-B7: eps=0.001, momentum=0.01
constexpr BatchNormSpec kV2Norm{1e-3, 0.1};       // V2: eps=1e-03

constexpr std::array<Variant, 11> kVariants = {{
    {"efficientnet_b0", 1.0, 1.0, 0.2, kDefaultNorm, "efficientnet_b0_rwightman-3dd342df.pth", 256,
     224, "bicubic", false},
    {"efficientnet_b1", 1.0, 1.1, 0.2, kDefaultNorm, "efficientnet_b1-c27df63c.pth", 255, 240,
     "bilinear", false},  // IMAGENET1K_V2
    {"efficientnet_b2", 1.1, 1.2, 0.3, kDefaultNorm, "efficientnet_b2_rwightman-bcdf34b7.pth", 288,
     288, "bicubic", false},
    {"efficientnet_b3", 1.2, 1.4, 0.3, kDefaultNorm, "efficientnet_b3_rwightman-cf984f9c.pth", 320,
     300, "bicubic", false},
    {"efficientnet_b4", 1.4, 1.8, 0.4, kDefaultNorm, "efficientnet_b4_rwightman-7eb33cd5.pth", 384,
     380, "bicubic", false},
    {"efficientnet_b5", 1.6, 2.2, 0.4, kB5ToB7Norm, "efficientnet_b5_lukemelas-b6417697.pth", 456,
     456, "bicubic", false},
    {"efficientnet_b6", 1.8, 2.6, 0.5, kB5ToB7Norm, "efficientnet_b6_lukemelas-c76e70fd.pth", 528,
     528, "bicubic", false},
    {"efficientnet_b7", 2.0, 3.1, 0.5, kB5ToB7Norm, "efficientnet_b7_lukemelas-dcc49843.pth", 600,
     600, "bicubic", false},
    {"efficientnet_v2_s", 1.0, 1.0, 0.2, kV2Norm, "efficientnet_v2_s-dd5fe13b.pth", 384, 384,
     "bilinear", false},
    {"efficientnet_v2_m", 1.0, 1.0, 0.3, kV2Norm, "efficientnet_v2_m-dc08266a.pth", 480, 480,
     "bilinear", false},
    {"efficientnet_v2_l", 1.0, 1.0, 0.4, kV2Norm, "efficientnet_v2_l-59c71312.pth", 480, 480,
     "bicubic", true},
}};

const Variant& variant(const std::string& arch) {
  for (const Variant& v : kVariants) {
    if (arch == v.name) return v;
  }
  throw Error(ErrorKind::kInvalidArgument, "unsupported EfficientNet model type '" + arch + "'");
}

// _efficientnet_conf: the stages of each architecture (expand_ratio, kernel, stride, input
// channels, out channels, layers).
std::vector<MBConvConfig> setting_of(const Variant& v) {
  const std::string arch = v.name;
  if (arch.rfind("efficientnet_b", 0) == 0) {
    auto bneck = [&v](double t, int64_t k, int64_t s, int64_t in, int64_t out, int64_t n) {
      return mbconv_config(t, k, s, in, out, n, v.width_mult, v.depth_mult);
    };
    return {bneck(1, 3, 1, 32, 16, 1),  bneck(6, 3, 2, 16, 24, 2),  bneck(6, 5, 2, 24, 40, 2),
            bneck(6, 3, 2, 40, 80, 3),  bneck(6, 5, 1, 80, 112, 3), bneck(6, 5, 2, 112, 192, 4),
            bneck(6, 3, 1, 192, 320, 1)};
  }
  if (arch == "efficientnet_v2_s") {
    return {fused_mbconv_config(1, 3, 1, 24, 24, 2), fused_mbconv_config(4, 3, 2, 24, 48, 4),
            fused_mbconv_config(4, 3, 2, 48, 64, 4), mbconv_config(4, 3, 2, 64, 128, 6),
            mbconv_config(6, 3, 1, 128, 160, 9),     mbconv_config(6, 3, 2, 160, 256, 15)};
  }
  if (arch == "efficientnet_v2_m") {
    return {fused_mbconv_config(1, 3, 1, 24, 24, 3), fused_mbconv_config(4, 3, 2, 24, 48, 5),
            fused_mbconv_config(4, 3, 2, 48, 80, 5), mbconv_config(4, 3, 2, 80, 160, 7),
            mbconv_config(6, 3, 1, 160, 176, 14),    mbconv_config(6, 3, 2, 176, 304, 18),
            mbconv_config(6, 3, 1, 304, 512, 5)};
  }
  // efficientnet_v2_l (variant() admits no other name)
  return {fused_mbconv_config(1, 3, 1, 32, 32, 4), fused_mbconv_config(4, 3, 2, 32, 64, 7),
          fused_mbconv_config(4, 3, 2, 64, 96, 7), mbconv_config(4, 3, 2, 96, 192, 10),
          mbconv_config(6, 3, 1, 192, 224, 19),    mbconv_config(6, 3, 2, 224, 384, 25),
          mbconv_config(6, 3, 1, 384, 640, 7)};
}

}  // namespace

MBConvConfig mbconv_config(double expand_ratio, int64_t kernel, int64_t stride,
                           int64_t input_channels, int64_t out_channels, int64_t num_layers,
                           double width_mult, double depth_mult) {
  MBConvConfig cnf = fused_mbconv_config(
      expand_ratio, kernel, stride, adjust_channels(input_channels, width_mult),
      adjust_channels(out_channels, width_mult), adjust_depth(num_layers, depth_mult));
  cnf.block = MBConvKind::kMBConv;
  return cnf;
}

MBConvConfig fused_mbconv_config(double expand_ratio, int64_t kernel, int64_t stride,
                                 int64_t input_channels, int64_t out_channels, int64_t num_layers) {
  MBConvConfig cnf;
  cnf.block = MBConvKind::kFusedMBConv;
  cnf.expand_ratio = expand_ratio;
  cnf.kernel = kernel;
  cnf.stride = stride;
  cnf.input_channels = input_channels;
  cnf.out_channels = out_channels;
  cnf.num_layers = num_layers;
  return cnf;
}

MBConv::MBConv(const MBConvConfig& cnf, double stochastic_depth_prob, const BatchNormSpec& norm,
               Init init)
    : use_res_connect_(cnf.stride == 1 && cnf.input_channels == cnf.out_channels) {
  check_stride(cnf, "MBConv");
  const int64_t expanded = adjust_channels(cnf.input_channels, cnf.expand_ratio);
  nn::Sequential layers;
  if (expanded != cnf.input_channels) {  // expand
    layers->push_back(nested_conv_norm_act(silu_conv(cnf.input_channels, expanded, 1, norm), init));
  }
  layers->push_back(nested_conv_norm_act(  // depthwise
      silu_conv(expanded, expanded, cnf.kernel, norm).with_stride(cnf.stride).with_groups(expanded),
      init));
  const int64_t squeeze = std::max<int64_t>(1, cnf.input_channels / 4);
  layers->push_back(
      SqueezeExcitation(expanded, squeeze, init, ActivationKind::kSiLU, ActivationKind::kSigmoid));
  layers->push_back(
      nested_conv_norm_act(linear_conv(expanded, cnf.out_channels, norm), init));  // project
  block_ = register_module("block", layers);
  stochastic_depth_ = register_module(
      "stochastic_depth", StochasticDepth(stochastic_depth_prob, StochasticDepthMode::kRow));
}

torch::Tensor MBConv::forward(torch::Tensor x) {
  return residual(block_->forward(x), x, use_res_connect_, stochastic_depth_);
}

FusedMBConv::FusedMBConv(const MBConvConfig& cnf, double stochastic_depth_prob,
                         const BatchNormSpec& norm, Init init)
    : use_res_connect_(cnf.stride == 1 && cnf.input_channels == cnf.out_channels) {
  check_stride(cnf, "FusedMBConv");
  const int64_t expanded = adjust_channels(cnf.input_channels, cnf.expand_ratio);
  nn::Sequential layers;
  if (expanded != cnf.input_channels) {
    layers->push_back(nested_conv_norm_act(  // fused expand
        silu_conv(cnf.input_channels, expanded, cnf.kernel, norm).with_stride(cnf.stride), init));
    layers->push_back(nested_conv_norm_act(linear_conv(expanded, cnf.out_channels, norm), init));
  } else {
    layers->push_back(nested_conv_norm_act(
        silu_conv(cnf.input_channels, cnf.out_channels, cnf.kernel, norm).with_stride(cnf.stride),
        init));
  }
  block_ = register_module("block", layers);
  stochastic_depth_ = register_module(
      "stochastic_depth", StochasticDepth(stochastic_depth_prob, StochasticDepthMode::kRow));
}

torch::Tensor FusedMBConv::forward(torch::Tensor x) {
  return residual(block_->forward(x), x, use_res_connect_, stochastic_depth_);
}

EfficientNet::EfficientNet(const EfficientNetOptions& options) {
  check_option(!options.setting.empty(), "the inverted residual setting should not be empty");
  check_option(options.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(options.num_classes));
  check_option(options.dropout >= 0.0 && options.dropout <= 1.0,
               "dropout must be in [0, 1], got " + std::to_string(options.dropout));
  check_option(options.stochastic_depth_prob >= 0.0 && options.stochastic_depth_prob <= 1.0,
               "stochastic_depth_prob must be in [0, 1], got " +
                   std::to_string(options.stochastic_depth_prob));
  int64_t total_stage_blocks = 0;
  for (const auto& cnf : options.setting) {
    check_option(cnf.num_layers >= 1,
                 "every stage needs at least one layer, got " + std::to_string(cnf.num_layers));
    total_stage_blocks += cnf.num_layers;
  }
  const Init init = options.init;
  const BatchNormSpec& norm = options.norm;

  nn::Sequential layers;
  layers->push_back(nested_conv_norm_act(
      silu_conv(3, options.setting.front().input_channels, 3, norm).with_stride(2), init));
  int64_t stage_block_id = 0;
  for (const auto& cnf : options.setting) {
    NestedSequential stage;
    for (int64_t i = 0; i < cnf.num_layers; ++i) {
      MBConvConfig block_cnf = cnf;
      if (i > 0) {  // only a stage's first block changes channels and resolution
        block_cnf.input_channels = block_cnf.out_channels;
        block_cnf.stride = 1;
      }
      // Python: stochastic_depth_prob * float(stage_block_id) / total_stage_blocks.
      const double sd_prob = options.stochastic_depth_prob * static_cast<double>(stage_block_id) /
                             static_cast<double>(total_stage_blocks);
      if (block_cnf.block == MBConvKind::kMBConv) {
        stage->push_back(std::make_shared<MBConv>(block_cnf, sd_prob, norm, init));
      } else {
        stage->push_back(std::make_shared<FusedMBConv>(block_cnf, sd_prob, norm, init));
      }
      ++stage_block_id;
    }
    layers->push_back(stage);
  }
  const int64_t lastconv_input = options.setting.back().out_channels;
  const int64_t lastconv_output = options.last_channel.value_or(4 * lastconv_input);
  layers->push_back(
      nested_conv_norm_act(silu_conv(lastconv_input, lastconv_output, 1, norm), init));
  features_ = register_module("features", layers);
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  classifier_ = register_module(
      "classifier",
      nn::Sequential(nn::Dropout(nn::DropoutOptions(options.dropout)),
                     make_linear(nn::LinearOptions(lastconv_output, options.num_classes), init)));

  if (init == Init::kSkip) return;
  init_like_torchvision(*this, /*linear_std=*/0.0);  // Linear: uniform(+-1/sqrt(out_features))
}

torch::Tensor EfficientNet::forward(torch::Tensor x) {
  check_image_batch(x, "EfficientNet");
  x = torch::flatten(avgpool_(features_->forward(x)), 1);
  return classifier_->forward(x);
}

EfficientNetOptions efficientnet_options(const std::string& arch, int64_t num_classes, Init init) {
  const Variant& v = variant(arch);
  EfficientNetOptions options;
  options.setting = setting_of(v);
  options.dropout = v.dropout;
  options.norm = v.norm;
  if (arch.rfind("efficientnet_v2_", 0) == 0) options.last_channel = 1280;
  options.num_classes = num_classes;
  options.init = init;
  return options;
}

std::shared_ptr<EfficientNet> efficientnet(const std::string& arch, int64_t num_classes,
                                           Init init) {
  return std::make_shared<EfficientNet>(efficientnet_options(arch, num_classes, init));
}

std::vector<ArchSpec> efficientnet_archs() {
  std::vector<ArchSpec> rows;
  for (const Variant& v : kVariants) {
    ArchSpec spec;
    spec.name = v.name;
    spec.family = "efficientnet";
    const std::string arch = v.name;
    spec.factory = [arch](const ModelConfig& c) {
      return efficientnet(arch, c.num_classes, c.init);
    };
    spec.pretrained_file = v.file;
    spec.head_weight_key = "classifier.1.weight";
    spec.preset.resize_size = v.resize;
    spec.preset.crop_size = v.crop;
    spec.preset.interpolation = v.interpolation;
    if (v.half_mean_std) {
      spec.preset.mean = {0.5, 0.5, 0.5};
      spec.preset.std = {0.5, 0.5, 0.5};
    }
    rows.push_back(std::move(spec));
  }
  return rows;
}

}  // namespace ptinfer::models
