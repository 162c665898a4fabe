#include "models/swin.h"

#include <numeric>
#include <sstream>
#include <string>

#include "common/error.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/blocks/mlp.h"
#include "models/blocks/nested_sequential.h"
#include "models/blocks/trunc_normal.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

constexpr double kLayerNormEps = 1e-5;  // torchvision's partial(nn.LayerNorm, eps=1e-5)

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "SwinTransformer options: " + message);
}

// One row of torchvision's builders.
struct SwinArch {
  int64_t embed_dim;
  std::vector<int64_t> depths, num_heads;
  int64_t window;
  double stochastic_depth_prob;
  SwinVersion version;
};

std::shared_ptr<SwinTransformer> make(const SwinArch& arch, const ModelConfig& config) {
  SwinOptions options;
  options.embed_dim = arch.embed_dim;
  options.depths = arch.depths;
  options.num_heads = arch.num_heads;
  options.window_size = {arch.window, arch.window};
  options.stochastic_depth_prob = arch.stochastic_depth_prob;
  options.version = arch.version;
  options.num_classes = config.num_classes;
  options.init = config.init;
  return std::make_shared<SwinTransformer>(options);
}

}  // namespace

SwinTransformerBlockImpl::SwinTransformerBlockImpl(int64_t dim, int64_t num_heads,
                                                   std::array<int64_t, 2> shift_size,
                                                   double stochastic_depth_prob,
                                                   const SwinOptions& options)
    : version_(options.version) {
  norm1_ = register_module("norm1", make_layer_norm(dim, kLayerNormEps));
  ShiftedWindowAttentionOptions attn(dim, options.window_size, shift_size, num_heads);
  attn.attention_dropout = options.attention_dropout;
  attn.dropout = options.dropout;
  attn.version = options.version;
  attn_ = register_module("attn", ShiftedWindowAttention(attn, options.init));
  stochastic_depth_ = register_module(
      "stochastic_depth", StochasticDepth(stochastic_depth_prob, StochasticDepthMode::kRow));
  norm2_ = register_module("norm2", make_layer_norm(dim, kLayerNormEps));
  // Python's int(dim * mlp_ratio): a float product, truncated.
  const auto hidden = static_cast<int64_t>(static_cast<double>(dim) * options.mlp_ratio);
  // torchvision gives these Linears xavier_uniform_ here, which SwinTransformer's own
  // initialisation then overwrites: the draw is left out.
  mlp_ = register_module("mlp", make_mlp(MlpOptions(dim, {hidden, dim})
                                             .with_activation(ActivationKind::kGELU)
                                             .with_dropout(options.dropout),
                                         options.init));
}

torch::Tensor SwinTransformerBlockImpl::forward(const torch::Tensor& x) {
  if (version_ == SwinVersion::kV2) {
    const torch::Tensor y = x + stochastic_depth_(norm1_(attn_(x)));
    return y + stochastic_depth_(norm2_(mlp_->forward(y)));
  }
  const torch::Tensor y = x + stochastic_depth_(attn_(norm1_(x)));
  return y + stochastic_depth_(mlp_->forward(norm2_(y)));
}

PatchMergingImpl::PatchMergingImpl(int64_t dim, SwinVersion version, Init init)
    : version_(version) {
  reduction_ = register_module("reduction",
                               make_linear(nn::LinearOptions(4 * dim, 2 * dim).bias(false), init));
  norm_ = register_module(
      "norm", make_layer_norm(version == SwinVersion::kV2 ? 2 * dim : 4 * dim, kLayerNormEps));
}

torch::Tensor PatchMergingImpl::forward(const torch::Tensor& input) {
  const int64_t h = input.size(-3), w = input.size(-2);
  const torch::Tensor x = F::pad(input, F::PadFuncOptions({0, 0, 0, w % 2, 0, h % 2}));
  auto pick = [&x](int64_t row, int64_t col) {
    return x.slice(-3, row, c10::nullopt, 2).slice(-2, col, c10::nullopt, 2);
  };
  const torch::Tensor merged = torch::cat({pick(0, 0), pick(1, 0), pick(0, 1), pick(1, 1)}, -1);
  if (version_ == SwinVersion::kV2) return norm_(reduction_(merged));
  return reduction_(norm_(merged));
}

SwinTransformer::SwinTransformer(const SwinOptions& options) : options_(options) {
  const auto& depths = options.depths;
  check_option(!depths.empty() && depths.size() == options.num_heads.size(),
               "depths and num_heads must be non-empty and of the same length");
  for (size_t i = 0; i < depths.size(); ++i) {
    check_option(depths[i] >= 1 && options.num_heads[i] >= 1,
                 "every stage needs >= 1 block and >= 1 head");
  }
  const int64_t total_blocks = std::accumulate(depths.begin(), depths.end(), int64_t{0});
  check_option(total_blocks >= 2,
               "at least 2 blocks in all (the stochastic depth schedule "
               "divides by their number - 1)");
  check_option(options.embed_dim >= 1 && options.patch_size[0] >= 1 && options.patch_size[1] >= 1,
               "embed_dim and patch_size must be >= 1");
  check_option(options.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(options.num_classes));
  check_option(options.stochastic_depth_prob >= 0.0 && options.stochastic_depth_prob <= 1.0,
               "stochastic_depth_prob must be in [0, 1]");
  const Init init = options.init;
  const auto& patch = options.patch_size;

  features_ = register_module("features", NestedSequential());
  // Patch embedding: non-overlapping patches to embed_dim channels, then channels-last.
  features_->push_back(
      NestedSequential(make_conv(nn::Conv2dOptions(3, options.embed_dim, {patch[0], patch[1]})
                                     .stride({patch[0], patch[1]}),
                                 init),
                       Permute(std::vector<int64_t>{0, 2, 3, 1}),
                       make_layer_norm(options.embed_dim, kLayerNormEps)));
  int64_t block_id = 0;
  int64_t dim = options.embed_dim;
  for (size_t stage = 0; stage < depths.size(); ++stage) {
    dim = options.embed_dim << stage;
    NestedSequential blocks;
    for (int64_t j = 0; j < depths[stage]; ++j) {
      // Python: stochastic_depth_prob * float(stage_block_id) / (total_stage_blocks - 1).
      const double p = options.stochastic_depth_prob * static_cast<double>(block_id) /
                       static_cast<double>(total_blocks - 1);
      std::array<int64_t, 2> shift = {0, 0};
      if (j % 2 == 1) shift = {options.window_size[0] / 2, options.window_size[1] / 2};
      blocks->push_back(SwinTransformerBlock(dim, options.num_heads[stage], shift, p, options));
      ++block_id;
    }
    features_->push_back(blocks);
    if (stage + 1 < depths.size()) features_->push_back(PatchMerging(dim, options.version, init));
  }
  norm_ = register_module("norm", make_layer_norm(dim, kLayerNormEps));
  permute_ = register_module("permute", Permute(std::vector<int64_t>{0, 3, 1, 2}));
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  flatten_ = register_module("flatten", nn::Flatten(nn::FlattenOptions().start_dim(1)));
  head_ = register_module("head", make_linear(nn::LinearOptions(dim, options.num_classes), init));

  if (init == Init::kSkip) return;
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* linear = module->as<nn::Linear>()) {
      trunc_normal_(linear->weight, 0.0, 0.02);
      if (linear->options.bias()) nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor SwinTransformer::forward(torch::Tensor x) {
  check_image_batch(x, "SwinTransformer");
  if (x.size(2) < options_.patch_size[0] || x.size(3) < options_.patch_size[1]) {
    std::ostringstream shape;
    shape << x.sizes();
    throw Error(ErrorKind::kInvalidArgument, "SwinTransformer input must be at least one patch (" +
                                                 std::to_string(options_.patch_size[0]) + "x" +
                                                 std::to_string(options_.patch_size[1]) +
                                                 "), got " + shape.str());
  }
  x = norm_(features_->forward(x));
  x = flatten_(avgpool_(permute_(x)));
  return head_(x);
}

std::shared_ptr<SwinTransformer> swin_t(const ModelConfig& config) {
  return make({96, {2, 2, 6, 2}, {3, 6, 12, 24}, 7, 0.2, SwinVersion::kV1}, config);
}
std::shared_ptr<SwinTransformer> swin_s(const ModelConfig& config) {
  return make({96, {2, 2, 18, 2}, {3, 6, 12, 24}, 7, 0.3, SwinVersion::kV1}, config);
}
std::shared_ptr<SwinTransformer> swin_b(const ModelConfig& config) {
  return make({128, {2, 2, 18, 2}, {4, 8, 16, 32}, 7, 0.5, SwinVersion::kV1}, config);
}
std::shared_ptr<SwinTransformer> swin_v2_t(const ModelConfig& config) {
  return make({96, {2, 2, 6, 2}, {3, 6, 12, 24}, 8, 0.2, SwinVersion::kV2}, config);
}
std::shared_ptr<SwinTransformer> swin_v2_s(const ModelConfig& config) {
  return make({96, {2, 2, 18, 2}, {3, 6, 12, 24}, 8, 0.3, SwinVersion::kV2}, config);
}
std::shared_ptr<SwinTransformer> swin_v2_b(const ModelConfig& config) {
  return make({128, {2, 2, 18, 2}, {4, 8, 16, 32}, 8, 0.5, SwinVersion::kV2}, config);
}

std::vector<ArchSpec> swin_archs() {
  using Builder = std::shared_ptr<SwinTransformer> (*)(const ModelConfig&);
  auto row = [](const char* name, Builder build, const char* file, int64_t resize, int64_t crop) {
    ArchSpec spec;
    spec.name = name;
    spec.family = "swin";
    spec.factory = [build](const ModelConfig& c) { return build(c); };
    spec.pretrained_file = file;
    spec.head_weight_key = "head.weight";
    spec.preset.resize_size = resize;
    spec.preset.crop_size = crop;
    spec.preset.interpolation = "bicubic";
    return spec;
  };
  return {
      row("swin_t", swin_t, "swin_t-704ceda3.pth", 232, 224),
      row("swin_s", swin_s, "swin_s-5e29d889.pth", 246, 224),
      row("swin_b", swin_b, "swin_b-68c6b09e.pth", 238, 224),
      row("swin_v2_t", swin_v2_t, "swin_v2_t-b137f0e2.pth", 260, 256),
      row("swin_v2_s", swin_v2_s, "swin_v2_s-637d8ceb.pth", 260, 256),
      row("swin_v2_b", swin_v2_b, "swin_v2_b-781e5279.pth", 272, 256),
  };
}

}  // namespace ptinfer::models
