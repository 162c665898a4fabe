#include "models/alexnet.h"

#include <string>

#include "common/error.h"
#include "models/blocks/activation.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding,
                Init init) {
  return make_conv(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding), init);
}

nn::MaxPool2d max_pool() { return nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2)); }

Activation relu() { return Activation(ActivationKind::kReLU); }

}  // namespace

AlexNet::AlexNet(const AlexNetOptions& o) {
  if (o.num_classes < 1 || !(o.dropout >= 0.0 && o.dropout <= 1.0)) {
    throw Error(ErrorKind::kInvalidArgument,
                "AlexNet options: num_classes must be >= 1 and dropout in [0, 1], got " +
                    std::to_string(o.num_classes) + " and " + std::to_string(o.dropout));
  }
  features_ = register_module(
      "features",
      nn::Sequential(conv(3, 64, 11, 4, 2, o.init), relu(), max_pool(),
                     conv(64, 192, 5, 1, 2, o.init), relu(), max_pool(),
                     conv(192, 384, 3, 1, 1, o.init), relu(), conv(384, 256, 3, 1, 1, o.init),
                     relu(), conv(256, 256, 3, 1, 1, o.init), relu(), max_pool()));
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(6)));
  classifier_ = register_module(
      "classifier",
      nn::Sequential(nn::Dropout(o.dropout),
                     make_linear(nn::LinearOptions(256 * 6 * 6, 4096), o.init), relu(),
                     nn::Dropout(o.dropout), make_linear(nn::LinearOptions(4096, 4096), o.init),
                     relu(), make_linear(nn::LinearOptions(4096, o.num_classes), o.init)));
  // No init loop: torchvision keeps PyTorch's layer defaults, which LibTorch's constructors drew.
}

torch::Tensor AlexNet::forward(torch::Tensor x) {
  check_image_batch(x, "AlexNet");
  x = avgpool_(features_->forward(x));
  return classifier_->forward(torch::flatten(x, 1));
}

std::shared_ptr<AlexNet> alexnet(int64_t num_classes, Init init) {
  AlexNetOptions options;
  options.num_classes = num_classes;
  options.init = init;
  return std::make_shared<AlexNet>(options);
}

std::vector<ArchSpec> alexnet_archs() {
  ArchSpec spec;
  spec.name = "alexnet";
  spec.family = "alexnet";
  spec.factory = [](const ModelConfig& c) { return alexnet(c.num_classes, c.init); };
  spec.pretrained_file = "alexnet-owt-7be5be79.pth";
  spec.head_weight_key = "classifier.6.weight";
  return {spec};
}

}  // namespace ptinfer::models
