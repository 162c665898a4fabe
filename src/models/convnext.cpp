#include "models/convnext.h"

#include <sstream>
#include <string>
#include <utility>

#include "common/error.h"
#include "models/blocks/activation.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layer_norm_2d.h"
#include "models/blocks/layers.h"
#include "models/blocks/permute.h"
#include "models/blocks/trunc_normal.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

// torchvision's norm_layer defaults: partial(nn.LayerNorm, eps=1e-6) inside CNBlock,
// partial(LayerNorm2d, eps=1e-6) for the stem, the downsamplings and the classifier.
constexpr double kNormEps = 1e-6;
constexpr int64_t kStemStride = 4;

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "ConvNeXt options: " + message);
}

std::shared_ptr<ConvNeXt> make(std::vector<CNBlockConfig> block_setting,
                               double stochastic_depth_prob, int64_t num_classes, Init init) {
  ConvNeXtOptions options;
  options.block_setting = std::move(block_setting);
  options.stochastic_depth_prob = stochastic_depth_prob;
  options.num_classes = num_classes;
  options.init = init;
  return std::make_shared<ConvNeXt>(options);
}

}  // namespace

CNBlockImpl::CNBlockImpl(int64_t dim, double layer_scale, double stochastic_depth_prob, Init init) {
  check_option(dim >= 1, "block dim must be >= 1, got " + std::to_string(dim));
  block_ = register_module(
      "block",
      nn::Sequential(
          make_conv(nn::Conv2dOptions(dim, dim, 7).padding(3).groups(dim).bias(true), init),
          Permute(std::vector<int64_t>{0, 2, 3, 1}), make_layer_norm(dim, kNormEps),
          make_linear(nn::LinearOptions(dim, 4 * dim).bias(true), init),
          Activation(ActivationKind::kGELU),
          make_linear(nn::LinearOptions(4 * dim, dim).bias(true), init),
          Permute(std::vector<int64_t>{0, 3, 1, 2})));
  // torch.ones(dim, 1, 1) * layer_scale: the float32 rounding of layer_scale.
  layer_scale_ = register_parameter("layer_scale", torch::full({dim, 1, 1}, layer_scale));
  stochastic_depth_ = register_module(
      "stochastic_depth", StochasticDepth(stochastic_depth_prob, StochasticDepthMode::kRow));
}

torch::Tensor CNBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor result = layer_scale_ * block_->forward(x);
  result = stochastic_depth_(result);
  // torchvision adds in place; out of place gives the same numbers and can never overwrite a
  // tensor autograd saved.
  return result + x;
}

ConvNeXt::ConvNeXt(const ConvNeXtOptions& options) : options_(options) {
  const auto& setting = options.block_setting;
  check_option(!setting.empty(), "the block_setting should not be empty");
  check_option(options.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(options.num_classes));
  check_option(options.stochastic_depth_prob >= 0.0 && options.stochastic_depth_prob <= 1.0,
               "stochastic_depth_prob must be in [0, 1], got " +
                   std::to_string(options.stochastic_depth_prob));
  int64_t total_stage_blocks = 0;
  for (const CNBlockConfig& cnf : setting) {
    check_option(
        cnf.input_channels >= 1 && cnf.out_channels.value_or(1) >= 1 && cnf.num_layers >= 1,
        "every stage needs channels >= 1 and at least one block");
    total_stage_blocks += cnf.num_layers;
  }
  const Init init = options.init;

  features_ = nn::Sequential();
  // Stem: Conv2dNormActivation(3, C, kernel 4, stride 4, padding 0, LayerNorm2d, no
  // activation, bias).
  const int64_t stem_channels = setting.front().input_channels;
  features_->push_back(NestedSequential(
      make_conv(nn::Conv2dOptions(3, stem_channels, kStemStride).stride(kStemStride).bias(true),
                init),
      LayerNorm2d(stem_channels, kNormEps)));
  int64_t stage_block_id = 0;
  for (const CNBlockConfig& cnf : setting) {
    NestedSequential stage;
    for (int64_t i = 0; i < cnf.num_layers; ++i) {
      // Python: stochastic_depth_prob * stage_block_id / (total_stage_blocks - 1.0), left to
      // right (a single block divides 0 by 0: torchvision raises, and so does the probability
      // check, NaN being outside [0, 1]).
      const double sd_prob = options.stochastic_depth_prob * static_cast<double>(stage_block_id) /
                             (static_cast<double>(total_stage_blocks) - 1.0);
      stage->push_back(CNBlock(cnf.input_channels, options.layer_scale, sd_prob, init));
      ++stage_block_id;
    }
    features_->push_back(stage);
    if (cnf.out_channels) {
      features_->push_back(NestedSequential(
          LayerNorm2d(cnf.input_channels, kNormEps),
          make_conv(nn::Conv2dOptions(cnf.input_channels, *cnf.out_channels, 2).stride(2), init)));
    }
  }
  features_ = register_module("features", features_);
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  const CNBlockConfig& last = setting.back();
  const int64_t last_channels = last.out_channels.value_or(last.input_channels);
  classifier_ = register_module(
      "classifier",
      nn::Sequential(LayerNorm2d(last_channels, kNormEps), nn::Flatten(nn::FlattenOptions()),
                     make_linear(nn::LinearOptions(last_channels, options.num_classes), init)));

  if (init == Init::kSkip) return;
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      trunc_normal_(conv->weight, 0.0, 0.02);
      if (conv->options.bias()) nn::init::zeros_(conv->bias);
    } else if (auto* linear = module->as<nn::Linear>()) {
      trunc_normal_(linear->weight, 0.0, 0.02);
      if (linear->options.bias()) nn::init::zeros_(linear->bias);
    }
  }
}

int64_t ConvNeXt::min_input_size() const {
  int64_t size = kStemStride;
  for (const CNBlockConfig& cnf : options_.block_setting) {
    if (cnf.out_channels) size *= 2;
  }
  return size;
}

torch::Tensor ConvNeXt::forward(torch::Tensor x) {
  check_image_batch(x, "ConvNeXt");
  const int64_t min_size = min_input_size();
  if (x.size(2) < min_size || x.size(3) < min_size) {
    std::ostringstream shape;
    shape << x.sizes();
    throw Error(ErrorKind::kInvalidArgument,
                "ConvNeXt input must be at least " + std::to_string(min_size) + "x" +
                    std::to_string(min_size) +
                    " (its stem and downsamplings divide H and W by that), got " + shape.str());
  }
  x = features_->forward(x);
  x = avgpool_(x);
  return classifier_->forward(x);
}

std::shared_ptr<ConvNeXt> convnext_tiny(int64_t num_classes, Init init) {
  return make({{96, 192, 3}, {192, 384, 3}, {384, 768, 9}, {768, std::nullopt, 3}}, 0.1,
              num_classes, init);
}
std::shared_ptr<ConvNeXt> convnext_small(int64_t num_classes, Init init) {
  return make({{96, 192, 3}, {192, 384, 3}, {384, 768, 27}, {768, std::nullopt, 3}}, 0.4,
              num_classes, init);
}
std::shared_ptr<ConvNeXt> convnext_base(int64_t num_classes, Init init) {
  return make({{128, 256, 3}, {256, 512, 3}, {512, 1024, 27}, {1024, std::nullopt, 3}}, 0.5,
              num_classes, init);
}
std::shared_ptr<ConvNeXt> convnext_large(int64_t num_classes, Init init) {
  return make({{192, 384, 3}, {384, 768, 3}, {768, 1536, 27}, {1536, std::nullopt, 3}}, 0.5,
              num_classes, init);
}

std::vector<ArchSpec> convnext_archs() {
  using Builder = std::shared_ptr<ConvNeXt> (*)(int64_t, Init);
  auto row = [](const char* name, Builder build, const char* file, int64_t resize) {
    ArchSpec spec;
    spec.name = name;
    spec.family = "convnext";
    spec.factory = [build](const ModelConfig& c) { return build(c.num_classes, c.init); };
    spec.pretrained_file = file;
    spec.head_weight_key = "classifier.2.weight";
    spec.preset.resize_size = resize;  // crop 224, bilinear, ImageNet mean/std
    return spec;
  };
  return {
      row("convnext_tiny", convnext_tiny, "convnext_tiny-983f1562.pth", 236),
      row("convnext_small", convnext_small, "convnext_small-0c510722.pth", 230),
      row("convnext_base", convnext_base, "convnext_base-6075fbad.pth", 232),
      row("convnext_large", convnext_large, "convnext_large-ea097f82.pth", 232),
  };
}

}  // namespace ptinfer::models
