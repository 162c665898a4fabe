#include "models/vgg.h"

#include <map>
#include <string>

#include "common/error.h"
#include "models/blocks/activation.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

constexpr int64_t M = kVggMaxPool;

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "VGG options: " + message);
}

}  // namespace

const std::vector<int64_t>& vgg_config(char name) {
  static const std::map<char, std::vector<int64_t>> kConfigs = {
      {'A', {64, M, 128, M, 256, 256, M, 512, 512, M, 512, 512, M}},
      {'B', {64, 64, M, 128, 128, M, 256, 256, M, 512, 512, M, 512, 512, M}},
      {'D', {64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M}},
      {'E', {64,  64,  M,   128, 128, M,   256, 256, 256, 256, M,
             512, 512, 512, 512, M,   512, 512, 512, 512, M}},
  };
  auto it = kConfigs.find(name);
  check_option(it != kConfigs.end(),
               std::string("unknown configuration '") + name + "' (A, B, D or E)");
  return it->second;
}

torch::nn::Sequential vgg_make_layers(const std::vector<int64_t>& config, bool batch_norm,
                                      Init init) {
  nn::Sequential layers;
  int64_t in_channels = 3;
  for (int64_t v : config) {
    check_option(v >= 0, "negative channel count " + std::to_string(v));
    if (v == kVggMaxPool) {
      layers->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)));
      continue;
    }
    layers->push_back(make_conv(nn::Conv2dOptions(in_channels, v, 3).padding(1), init));
    if (batch_norm) layers->push_back(make_batch_norm(v));
    layers->push_back(Activation(ActivationKind::kReLU));
    in_channels = v;
  }
  return layers;
}

Vgg::Vgg(const VggOptions& o) {
  check_option(o.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(o.num_classes));
  check_option(o.dropout >= 0.0 && o.dropout <= 1.0,
               "dropout must be in [0, 1], got " + std::to_string(o.dropout));
  int64_t last_conv = 0;
  for (int64_t v : o.config) last_conv = v == kVggMaxPool ? last_conv : v;
  check_option(last_conv == 512,
               "the last conv must have 512 channels, got " + std::to_string(last_conv));

  features_ = register_module("features", vgg_make_layers(o.config, o.batch_norm, o.init));
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(7)));
  classifier_ = register_module(
      "classifier", nn::Sequential(make_linear(nn::LinearOptions(512 * 7 * 7, 4096), o.init),
                                   Activation(ActivationKind::kReLU), nn::Dropout(o.dropout),
                                   make_linear(nn::LinearOptions(4096, 4096), o.init),
                                   Activation(ActivationKind::kReLU), nn::Dropout(o.dropout),
                                   make_linear(nn::LinearOptions(4096, o.num_classes), o.init)));

  // torchvision's init_weights loop is exactly the zoo's usual one with normal_(0, 0.01) linears.
  if (o.init != Init::kSkip) init_like_torchvision(*this, 0.01);
}

torch::Tensor Vgg::forward(torch::Tensor x) {
  check_image_batch(x, "VGG");
  x = avgpool_(features_->forward(x));
  return classifier_->forward(torch::flatten(x, 1));
}

std::shared_ptr<Vgg> vgg(char config, bool batch_norm, int64_t num_classes, Init init) {
  VggOptions options;
  options.config = vgg_config(config);
  options.batch_norm = batch_norm;
  options.num_classes = num_classes;
  options.init = init;
  return std::make_shared<Vgg>(options);
}

std::vector<ArchSpec> vgg_archs() {
  auto row = [](const char* name, char config, bool batch_norm, const char* file) {
    ArchSpec spec;
    spec.name = name;
    spec.family = "vgg";
    spec.factory = [config, batch_norm](const ModelConfig& c) {
      return vgg(config, batch_norm, c.num_classes, c.init);
    };
    spec.pretrained_file = file;
    spec.head_weight_key = "classifier.6.weight";
    return spec;
  };
  return {
      row("vgg11", 'A', false, "vgg11-8a719046.pth"),
      row("vgg11_bn", 'A', true, "vgg11_bn-6002323d.pth"),
      row("vgg13", 'B', false, "vgg13-19584684.pth"),
      row("vgg13_bn", 'B', true, "vgg13_bn-abd245e5.pth"),
      row("vgg16", 'D', false, "vgg16-397923af.pth"),
      row("vgg16_bn", 'D', true, "vgg16_bn-6c64b313.pth"),
      row("vgg19", 'E', false, "vgg19-dcbb9e9d.pth"),
      row("vgg19_bn", 'E', true, "vgg19_bn-c79401a0.pth"),
  };
}

}  // namespace ptinfer::models
