#include "models/vit.h"

#include <cmath>
#include <sstream>
#include <string>

#include "common/error.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/blocks/mlp.h"
#include "models/blocks/trunc_normal.h"
#include "models/families.h"
#include "models/legacy_keys.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

constexpr double kLayerNormEps = 1e-6;  // torchvision's partial(nn.LayerNorm, eps=1e-6)

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "VisionTransformer options: " + message);
}

std::string shape_str(const torch::Tensor& x) {
  std::ostringstream s;
  s << x.sizes();
  return s.str();
}

// One row of torchvision's builders; weights_image_size is the DEFAULT weights' min_size.
struct VitArch {
  int64_t patch_size, num_layers, num_heads, hidden_dim, mlp_dim, weights_image_size;
};

std::shared_ptr<VisionTransformer> make(const VitArch& arch, const ModelConfig& config) {
  VitOptions options;
  // _vision_transformer: image_size from the weights' meta when built with weights, else 224.
  options.image_size = config.image_size > 0 ? config.image_size
                       : config.pretrained   ? arch.weights_image_size
                                             : 224;
  options.patch_size = arch.patch_size;
  options.num_layers = arch.num_layers;
  options.num_heads = arch.num_heads;
  options.hidden_dim = arch.hidden_dim;
  options.mlp_dim = arch.mlp_dim;
  options.num_classes = config.num_classes;
  options.init = config.init;
  return std::make_shared<VisionTransformer>(options);
}

}  // namespace

EncoderBlockImpl::EncoderBlockImpl(const VitOptions& options) {
  const int64_t hidden = options.hidden_dim;
  ln_1_ = register_module("ln_1", make_layer_norm(hidden, kLayerNormEps));
  self_attention_ = register_module(
      "self_attention",
      MultiheadSelfAttention(hidden, options.num_heads, options.attention_dropout, options.init));
  dropout_ = register_module("dropout", nn::Dropout(nn::DropoutOptions(options.dropout)));
  ln_2_ = register_module("ln_2", make_layer_norm(hidden, kLayerNormEps));
  mlp_ = register_module("mlp", make_mlp(MlpOptions(hidden, {options.mlp_dim, hidden})
                                             .with_activation(ActivationKind::kGELU)
                                             .with_dropout(options.dropout),
                                         options.init));
  if (options.init != Init::kSkip) init_mlp_xavier(mlp_);  // MLPBlock's own initialisation
}

torch::Tensor EncoderBlockImpl::forward(const torch::Tensor& input) {
  torch::Tensor x = dropout_(self_attention_(ln_1_(input)));
  x = x + input;
  const torch::Tensor y = mlp_->forward(ln_2_(x));
  return x + y;
}

EncoderImpl::EncoderImpl(int64_t seq_length, const VitOptions& options) {
  // Init::kSkip: uninitialised, as make_linear's (a strict load writes it next).
  pos_embedding_ =
      register_parameter("pos_embedding", torch::empty({1, seq_length, options.hidden_dim}));
  if (options.init != Init::kSkip) {
    torch::NoGradGuard no_grad;
    nn::init::normal_(pos_embedding_, 0.0, 0.02);  // from BERT
  }
  dropout_ = register_module("dropout", nn::Dropout(nn::DropoutOptions(options.dropout)));
  layers_ = register_module("layers", nn::Sequential());
  for (int64_t i = 0; i < options.num_layers; ++i) {
    layers_->push_back("encoder_layer_" + std::to_string(i), EncoderBlock(options));
  }
  ln_ = register_module("ln", make_layer_norm(options.hidden_dim, kLayerNormEps));
}

torch::Tensor EncoderImpl::forward(const torch::Tensor& input) {
  return ln_(layers_->forward(dropout_(input + pos_embedding_)));
}

VisionTransformer::VisionTransformer(const VitOptions& options) : options_(options) {
  check_option(options.image_size >= 1 && options.patch_size >= 1,
               "image_size and patch_size must be >= 1");
  check_option(options.image_size % options.patch_size == 0,
               "image_size " + std::to_string(options.image_size) +
                   " is not divisible by patch_size " + std::to_string(options.patch_size));
  check_option(options.num_layers >= 1 && options.num_heads >= 1 && options.hidden_dim >= 1 &&
                   options.mlp_dim >= 1,
               "num_layers, num_heads, hidden_dim and mlp_dim must be >= 1");
  check_option(options.hidden_dim % options.num_heads == 0,
               "hidden_dim " + std::to_string(options.hidden_dim) +
                   " is not divisible by num_heads " + std::to_string(options.num_heads));
  check_option(options.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(options.num_classes));
  check_option(options.dropout >= 0.0 && options.dropout <= 1.0 &&
                   options.attention_dropout >= 0.0 && options.attention_dropout <= 1.0,
               "dropout probabilities must be in [0, 1]");
  const int64_t hidden = options.hidden_dim, patch = options.patch_size;
  const int64_t side = options.image_size / patch;

  conv_proj_ = register_module(
      "conv_proj", make_conv(nn::Conv2dOptions(3, hidden, patch).stride(patch), options.init));
  class_token_ = register_parameter("class_token", torch::empty({1, 1, hidden}));
  encoder_ = register_module("encoder", Encoder(side * side + 1, options));
  heads_ = register_module("heads", nn::Sequential());
  const nn::Linear head = make_linear(nn::LinearOptions(hidden, options.num_classes), options.init);
  heads_->push_back("head", head);

  if (options.init == Init::kSkip) return;
  torch::NoGradGuard no_grad;
  // The patchify stem: truncated normal with std sqrt(1 / fan_in).
  const double fan_in = 3.0 * static_cast<double>(patch * patch);
  trunc_normal_(conv_proj_->weight, 0.0, std::sqrt(1.0 / fan_in));
  nn::init::zeros_(conv_proj_->bias);
  nn::init::zeros_(class_token_);
  nn::init::zeros_(head->weight);
  nn::init::zeros_(head->bias);
}

torch::Tensor VisionTransformer::forward(torch::Tensor x) {
  check_image_batch(x, "VisionTransformer");
  const int64_t size = options_.image_size;
  if (x.size(2) != size || x.size(3) != size) {
    const std::string side = std::to_string(size);
    const std::string expected = "[N, 3, " + side + ", " + side + "]";
    throw Error(ErrorKind::kInvalidArgument,
                "VisionTransformer was built for " + side + "x" + side +
                    " images (its positional embedding fixes the input size): expected input " +
                    expected + ", got " + shape_str(x));
  }
  const int64_t n = x.size(0);
  const int64_t tokens = (size / options_.patch_size) * (size / options_.patch_size);
  // [N, hidden, n_h, n_w] -> [N, n_h * n_w, hidden]: one token per patch.
  x = conv_proj_(x).reshape({n, options_.hidden_dim, tokens}).permute({0, 2, 1});
  x = torch::cat({class_token_.expand({n, -1, -1}), x}, 1);
  x = encoder_(x);
  // The class token's output is the image's representation.
  return heads_->forward(x.select(1, 0));
}

std::shared_ptr<VisionTransformer> vit_b_16(const ModelConfig& config) {
  return make({16, 12, 12, 768, 3072, 224}, config);
}
std::shared_ptr<VisionTransformer> vit_b_32(const ModelConfig& config) {
  return make({32, 12, 12, 768, 3072, 224}, config);
}
std::shared_ptr<VisionTransformer> vit_l_16(const ModelConfig& config) {
  return make({16, 24, 16, 1024, 4096, 224}, config);
}
std::shared_ptr<VisionTransformer> vit_l_32(const ModelConfig& config) {
  return make({32, 24, 16, 1024, 4096, 224}, config);
}
std::shared_ptr<VisionTransformer> vit_h_14(const ModelConfig& config) {
  return make({14, 32, 16, 1280, 5120, 518}, config);
}

// The image size a ViT checkpoint was trained at: patch * sqrt(tokens - 1) from conv_proj's
// kernel and encoder.pos_embedding's length (257 tokens at 224 for /14 is 16 * 16 + 1); 0 when
// either is missing or the grid is not square.
int64_t vit_image_size_of(const std::vector<std::pair<std::string, torch::Tensor>>& sd) {
  int64_t patch = 0, tokens = 0;
  for (const auto& [name, t] : sd) {
    if (name == "conv_proj.weight" && t.dim() == 4) patch = t.size(3);
    if (name == "encoder.pos_embedding" && t.dim() == 3) tokens = t.size(1);
  }
  if (patch < 1 || tokens < 2) return 0;
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(tokens - 1))));
  return side * side == tokens - 1 ? side * patch : 0;
}

std::vector<ArchSpec> vit_archs() {
  using Builder = std::shared_ptr<VisionTransformer> (*)(const ModelConfig&);
  auto row = [](const char* name, Builder build, const char* file, PresetPreprocessing preset) {
    ArchSpec spec;
    spec.name = name;
    spec.family = "vit";
    spec.factory = [build](const ModelConfig& c) { return build(c); };
    spec.pretrained_file = file;
    spec.head_weight_key = "heads.head.weight";
    spec.preset = preset;
    spec.current_key = vit_current_key;  // MLPBlock's version-1 keys (mlp.linear_1, mlp.linear_2)
    spec.image_size_of = vit_image_size_of;
    // MLPBlock._version: encoder.layers.encoder_layer_N.mlp.
    spec.module_version = [](const std::string& path) -> int64_t {
      const std::string suffix = ".mlp";
      const bool mlp = path.rfind("encoder.layers.", 0) == 0 && path.size() > suffix.size() &&
                       path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
      return mlp ? 2 : 0;
    };
    return spec;
  };
  auto preset = [](int64_t resize, int64_t crop, const char* interpolation) {
    PresetPreprocessing p;
    p.resize_size = resize;
    p.crop_size = crop;
    p.interpolation = interpolation;
    return p;
  };
  // DEFAULT weights: IMAGENET1K_V1 for b/l, IMAGENET1K_SWAG_E2E_V1 (518, bicubic) for h.
  return {
      row("vit_b_16", vit_b_16, "vit_b_16-c867db91.pth", preset(256, 224, "bilinear")),
      row("vit_b_32", vit_b_32, "vit_b_32-d86f8d99.pth", preset(256, 224, "bilinear")),
      row("vit_l_16", vit_l_16, "vit_l_16-852ce7e3.pth", preset(242, 224, "bilinear")),
      row("vit_l_32", vit_l_32, "vit_l_32-c7638314.pth", preset(256, 224, "bilinear")),
      row("vit_h_14", vit_h_14, "vit_h_14_swag-80465313.pth", preset(518, 518, "bicubic")),
  };
}

}  // namespace ptinfer::models
