#include "models/densenet.h"

#include <string>

#include "common/error.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/families.h"
#include "models/legacy_keys.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

Activation relu() { return Activation(ActivationKind::kReLU); }

nn::Conv2d conv_no_bias(int64_t in, int64_t out, int64_t kernel, Init init) {
  return make_conv(nn::Conv2dOptions(in, out, kernel).padding((kernel - 1) / 2).bias(false), init);
}

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "DenseNet options: " + message);
}

}  // namespace

DenseLayerImpl::DenseLayerImpl(int64_t num_input_features, int64_t growth_rate, int64_t bn_size,
                               double drop_rate, Init init)
    : drop_rate_(drop_rate) {
  norm1_ = register_module("norm1", make_batch_norm(num_input_features));
  relu1_ = register_module("relu1", relu());
  conv1_ =
      register_module("conv1", conv_no_bias(num_input_features, bn_size * growth_rate, 1, init));
  norm2_ = register_module("norm2", make_batch_norm(bn_size * growth_rate));
  relu2_ = register_module("relu2", relu());
  conv2_ = register_module("conv2", conv_no_bias(bn_size * growth_rate, growth_rate, 3, init));
}

torch::Tensor DenseLayerImpl::forward(const std::vector<torch::Tensor>& features) {
  const torch::Tensor bottleneck = conv1_(relu1_(norm1_(torch::cat(features, 1))));
  torch::Tensor out = conv2_(relu2_(norm2_(bottleneck)));
  if (drop_rate_ > 0) out = torch::dropout(out, drop_rate_, is_training());
  return out;
}

DenseBlockImpl::DenseBlockImpl(int64_t num_layers, int64_t num_input_features, int64_t bn_size,
                               int64_t growth_rate, double drop_rate, Init init) {
  for (int64_t i = 0; i < num_layers; ++i) {
    layers_.push_back(register_module(
        "denselayer" + std::to_string(i + 1),
        DenseLayer(num_input_features + i * growth_rate, growth_rate, bn_size, drop_rate, init)));
  }
}

torch::Tensor DenseBlockImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> features = {x};
  features.reserve(layers_.size() + 1);
  for (auto& layer : layers_) features.push_back(layer->forward(features));
  return torch::cat(features, 1);
}

TransitionImpl::TransitionImpl(int64_t num_input_features, int64_t num_output_features, Init init) {
  norm_ = register_module("norm", make_batch_norm(num_input_features));
  relu_ = register_module("relu", relu());
  conv_ = register_module("conv", conv_no_bias(num_input_features, num_output_features, 1, init));
  pool_ = register_module("pool", nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2)));
}

torch::Tensor TransitionImpl::forward(const torch::Tensor& x) {
  return pool_(conv_(relu_(norm_(x))));
}

DenseNet::DenseNet(const DenseNetOptions& o) {
  check_option(o.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(o.num_classes));
  check_option(o.growth_rate >= 1 && o.num_init_features >= 1 && o.bn_size >= 1,
               "growth_rate, num_init_features and bn_size must be >= 1");
  for (int64_t n : o.block_config) {
    check_option(n >= 1, "every block needs at least one layer, got " + std::to_string(n));
  }
  check_option(o.drop_rate >= 0.0 && o.drop_rate <= 1.0,
               "drop_rate must be in [0, 1], got " + std::to_string(o.drop_rate));

  features_ = nn::Sequential();
  features_->push_back(
      "conv0",
      make_conv(nn::Conv2dOptions(3, o.num_init_features, 7).stride(2).padding(3).bias(false),
                o.init));
  features_->push_back("norm0", make_batch_norm(o.num_init_features));
  features_->push_back("relu0", relu());
  features_->push_back("pool0", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  int64_t num_features = o.num_init_features;
  for (size_t i = 0; i < o.block_config.size(); ++i) {
    const std::string n = std::to_string(i + 1);
    features_->push_back("denseblock" + n, DenseBlock(o.block_config[i], num_features, o.bn_size,
                                                      o.growth_rate, o.drop_rate, o.init));
    num_features += o.block_config[i] * o.growth_rate;
    if (i + 1 != o.block_config.size()) {
      features_->push_back("transition" + n, Transition(num_features, num_features / 2, o.init));
      num_features /= 2;
    }
  }
  features_->push_back("norm5", make_batch_norm(num_features));
  register_module("features", features_);
  classifier_ = register_module(
      "classifier", make_linear(nn::LinearOptions(num_features, o.num_classes), o.init));

  if (o.init == Init::kSkip) return;
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight);  // a = 0, fan_in, leaky_relu: gain sqrt(2)
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* fc = module->as<nn::Linear>()) {
      nn::init::zeros_(fc->bias);
    }
  }
}

torch::Tensor DenseNet::forward(torch::Tensor x) {
  check_image_batch(x, "DenseNet");
  x = torch::relu(features_->forward(x));
  x = torch::adaptive_avg_pool2d(x, {1, 1});
  return classifier_(torch::flatten(x, 1));
}

std::shared_ptr<DenseNet> densenet(int64_t growth_rate, std::array<int64_t, 4> block_config,
                                   int64_t num_init_features, int64_t num_classes, Init init) {
  DenseNetOptions options;
  options.growth_rate = growth_rate;
  options.block_config = block_config;
  options.num_init_features = num_init_features;
  options.num_classes = num_classes;
  options.init = init;
  return std::make_shared<DenseNet>(options);
}

std::vector<ArchSpec> densenet_archs() {
  auto row = [](const char* name, int64_t growth_rate, std::array<int64_t, 4> blocks,
                int64_t init_features, const char* file) {
    ArchSpec spec;
    spec.name = name;
    spec.family = "densenet";
    // _DenseBlock._version: features.denseblockN.
    spec.module_version = [](const std::string& path) -> int64_t {
      return path.rfind("features.denseblock", 0) == 0 &&
                     path.find('.', std::string("features.denseblock").size()) ==
                         std::string::npos
                 ? 2
                 : 0;
    };
    spec.factory = [=](const ModelConfig& c) {
      return densenet(growth_rate, blocks, init_features, c.num_classes, c.init);
    };
    spec.pretrained_file = file;
    spec.head_weight_key = "classifier.weight";
    // Checkpoints from torchvision < 0.3 name dense layers' children "norm.1", ... (renamed on
    // load, as torchvision's _load_state_dict does).
    spec.current_key = densenet_current_key;
    return spec;
  };
  return {
      row("densenet121", 32, {6, 12, 24, 16}, 64, "densenet121-a639ec97.pth"),
      row("densenet161", 48, {6, 12, 36, 24}, 96, "densenet161-8d451a50.pth"),
      row("densenet169", 32, {6, 12, 32, 32}, 64, "densenet169-b2777c0a.pth"),
      row("densenet201", 32, {6, 12, 48, 32}, 64, "densenet201-c1103571.pth"),
  };
}

}  // namespace ptinfer::models
