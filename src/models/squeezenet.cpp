#include "models/squeezenet.h"

#include <string>

#include "common/error.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

nn::MaxPool2d max_pool() {
  return nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).ceil_mode(true));
}

Activation relu() { return Activation(ActivationKind::kReLU); }

}  // namespace

FireImpl::FireImpl(int64_t inplanes, int64_t squeeze_planes, int64_t expand1x1_planes,
                   int64_t expand3x3_planes, Init init) {
  squeeze_ =
      register_module("squeeze", make_conv(nn::Conv2dOptions(inplanes, squeeze_planes, 1), init));
  squeeze_activation_ = register_module("squeeze_activation", relu());
  expand1x1_ = register_module(
      "expand1x1", make_conv(nn::Conv2dOptions(squeeze_planes, expand1x1_planes, 1), init));
  expand1x1_activation_ = register_module("expand1x1_activation", relu());
  expand3x3_ = register_module(
      "expand3x3",
      make_conv(nn::Conv2dOptions(squeeze_planes, expand3x3_planes, 3).padding(1), init));
  expand3x3_activation_ = register_module("expand3x3_activation", relu());
}

torch::Tensor FireImpl::forward(const torch::Tensor& x) {
  const torch::Tensor s = squeeze_activation_(squeeze_(x));
  return torch::cat({expand1x1_activation_(expand1x1_(s)), expand3x3_activation_(expand3x3_(s))},
                    1);
}

SqueezeNet::SqueezeNet(const SqueezeNetOptions& o) {
  if (o.num_classes < 1 || !(o.dropout >= 0.0 && o.dropout <= 1.0)) {
    throw Error(ErrorKind::kInvalidArgument,
                "SqueezeNet options: num_classes must be >= 1 and dropout in [0, 1], got " +
                    std::to_string(o.num_classes) + " and " + std::to_string(o.dropout));
  }
  const Init init = o.init;
  auto fire = [init](int64_t in, int64_t squeeze, int64_t e1, int64_t e3) {
    return Fire(in, squeeze, e1, e3, init);
  };
  if (o.version == SqueezeNetVersion::k1_0) {
    features_ = nn::Sequential(make_conv(nn::Conv2dOptions(3, 96, 7).stride(2), init), relu(),
                               max_pool(), fire(96, 16, 64, 64), fire(128, 16, 64, 64),
                               fire(128, 32, 128, 128), max_pool(), fire(256, 32, 128, 128),
                               fire(256, 48, 192, 192), fire(384, 48, 192, 192),
                               fire(384, 64, 256, 256), max_pool(), fire(512, 64, 256, 256));
  } else {
    features_ = nn::Sequential(make_conv(nn::Conv2dOptions(3, 64, 3).stride(2), init), relu(),
                               max_pool(), fire(64, 16, 64, 64), fire(128, 16, 64, 64), max_pool(),
                               fire(128, 32, 128, 128), fire(256, 32, 128, 128), max_pool(),
                               fire(256, 48, 192, 192), fire(384, 48, 192, 192),
                               fire(384, 64, 256, 256), fire(512, 64, 256, 256));
  }
  register_module("features", features_);
  nn::Conv2d final_conv = make_conv(nn::Conv2dOptions(512, o.num_classes, 1), init);
  classifier_ = register_module(
      "classifier", nn::Sequential(nn::Dropout(o.dropout), final_conv, relu(),
                                   nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1))));

  if (init == Init::kSkip) return;
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    auto* conv = module->as<nn::Conv2d>();
    if (conv == nullptr) continue;
    if (conv == final_conv.get()) {
      nn::init::normal_(conv->weight, 0.0, 0.01);
    } else {
      nn::init::kaiming_uniform_(conv->weight);  // a = 0, fan_in, leaky_relu: gain sqrt(2)
    }
    nn::init::zeros_(conv->bias);
  }
}

torch::Tensor SqueezeNet::forward(torch::Tensor x) {
  check_image_batch(x, "SqueezeNet");
  return torch::flatten(classifier_->forward(features_->forward(x)), 1);
}

std::shared_ptr<SqueezeNet> squeezenet(SqueezeNetVersion version, int64_t num_classes, Init init) {
  SqueezeNetOptions options;
  options.version = version;
  options.num_classes = num_classes;
  options.init = init;
  return std::make_shared<SqueezeNet>(options);
}

std::vector<ArchSpec> squeezenet_archs() {
  auto row = [](const char* name, SqueezeNetVersion version, const char* file) {
    ArchSpec spec;
    spec.name = name;
    spec.family = "squeezenet";
    spec.factory = [version](const ModelConfig& c) {
      return squeezenet(version, c.num_classes, c.init);
    };
    spec.pretrained_file = file;
    spec.head_weight_key = "classifier.1.weight";
    return spec;
  };
  return {
      row("squeezenet1_0", SqueezeNetVersion::k1_0, "squeezenet1_0-b66bff10.pth"),
      row("squeezenet1_1", SqueezeNetVersion::k1_1, "squeezenet1_1-b8a52dc0.pth"),
  };
}

}  // namespace ptinfer::models
