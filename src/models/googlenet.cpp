#include "models/googlenet.h"

#include <string>

#include "common/error.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/blocks/transform_input.h"
#include "models/blocks/trunc_normal.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

BasicConv2d conv(int64_t in, int64_t out, int64_t kernel, Init init, int64_t stride = 1,
                 int64_t padding = 0) {
  return BasicConv2d(BasicConv2dOptions(in, out, kernel).with_stride(stride).with_padding(padding),
                     init);
}

nn::MaxPool2d max_pool(int64_t kernel, int64_t stride, int64_t padding = 0) {
  return nn::MaxPool2d(
      nn::MaxPool2dOptions(kernel).stride(stride).padding(padding).ceil_mode(true));
}

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "GoogLeNet options: " + message);
}

}  // namespace

GoogLeNetInceptionImpl::GoogLeNetInceptionImpl(int64_t in_channels, int64_t ch1x1, int64_t ch3x3red,
                                               int64_t ch3x3, int64_t ch5x5red, int64_t ch5x5,
                                               int64_t pool_proj, Init init) {
  branch1_ = register_module("branch1", conv(in_channels, ch1x1, 1, init));
  branch2_ = register_module("branch2", nn::Sequential(conv(in_channels, ch3x3red, 1, init),
                                                       conv(ch3x3red, ch3x3, 3, init, 1, 1)));
  // 3x3, not the paper's 5x5: torchvision's known bug (pytorch/vision#906), its weights need it.
  branch3_ = register_module("branch3", nn::Sequential(conv(in_channels, ch5x5red, 1, init),
                                                       conv(ch5x5red, ch5x5, 3, init, 1, 1)));
  branch4_ = register_module(
      "branch4", nn::Sequential(max_pool(3, 1, 1), conv(in_channels, pool_proj, 1, init)));
}

torch::Tensor GoogLeNetInceptionImpl::forward(const torch::Tensor& x) {
  return torch::cat({branch1_(x), branch2_->forward(x), branch3_->forward(x), branch4_->forward(x)},
                    1);
}

GoogLeNetAuxImpl::GoogLeNetAuxImpl(int64_t in_channels, int64_t num_classes, double dropout,
                                   Init init) {
  register_module("conv", conv(in_channels, 128, 1, init));
  register_module("fc1", make_linear(nn::LinearOptions(2048, 1024), init));
  register_module("fc2", make_linear(nn::LinearOptions(1024, num_classes), init));
  register_module("dropout", nn::Dropout(dropout));
}

GoogLeNet::GoogLeNet(const GoogLeNetOptions& o) : options_(o) {
  check_option(o.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(o.num_classes));
  check_option(o.dropout >= 0.0 && o.dropout <= 1.0 && o.dropout_aux >= 0.0 && o.dropout_aux <= 1.0,
               "dropout must be in [0, 1]");
  const Init init = o.init;
  auto inception = [init](int64_t in, int64_t c1, int64_t c3r, int64_t c3, int64_t c5r, int64_t c5,
                          int64_t pool) {
    return GoogLeNetInception(in, c1, c3r, c3, c5r, c5, pool, init);
  };
  conv1_ = register_module("conv1", conv(3, 64, 7, init, 2, 3));
  maxpool1_ = register_module("maxpool1", max_pool(3, 2));
  conv2_ = register_module("conv2", conv(64, 64, 1, init));
  conv3_ = register_module("conv3", conv(64, 192, 3, init, 1, 1));
  maxpool2_ = register_module("maxpool2", max_pool(3, 2));

  inception3a_ = register_module("inception3a", inception(192, 64, 96, 128, 16, 32, 32));
  inception3b_ = register_module("inception3b", inception(256, 128, 128, 192, 32, 96, 64));
  maxpool3_ = register_module("maxpool3", max_pool(3, 2));

  inception4a_ = register_module("inception4a", inception(480, 192, 96, 208, 16, 48, 64));
  inception4b_ = register_module("inception4b", inception(512, 160, 112, 224, 24, 64, 64));
  inception4c_ = register_module("inception4c", inception(512, 128, 128, 256, 24, 64, 64));
  inception4d_ = register_module("inception4d", inception(512, 112, 144, 288, 32, 64, 64));
  inception4e_ = register_module("inception4e", inception(528, 256, 160, 320, 32, 128, 128));
  maxpool4_ = register_module("maxpool4", max_pool(2, 2));

  inception5a_ = register_module("inception5a", inception(832, 256, 160, 320, 32, 128, 128));
  inception5b_ = register_module("inception5b", inception(832, 384, 192, 384, 48, 128, 128));

  aux1_ = register_module("aux1", GoogLeNetAux(512, o.num_classes, o.dropout_aux, init));
  aux2_ = register_module("aux2", GoogLeNetAux(528, o.num_classes, o.dropout_aux, init));

  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  dropout_ = register_module("dropout", nn::Dropout(o.dropout));
  fc_ = register_module("fc", make_linear(nn::LinearOptions(1024, o.num_classes), init));

  if (init == Init::kSkip) return;
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<nn::Conv2d>()) {
      trunc_normal_(c->weight, 0.0, 0.01, -2.0, 2.0);
    } else if (auto* fc = module->as<nn::Linear>()) {
      trunc_normal_(fc->weight, 0.0, 0.01, -2.0, 2.0);
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

torch::Tensor GoogLeNet::forward(torch::Tensor x) {
  check_image_batch(x, "GoogLeNet");
  if (options_.transform_input) x = apply_transform_input(x);
  x = maxpool1_(conv1_(x));
  x = maxpool2_(conv3_(conv2_(x)));
  x = maxpool3_(inception3b_(inception3a_(x)));
  // torchvision runs aux1 here and aux2 after inception4d, in training only, for a loss that
  // ImageClassifier does not return: they are not run.
  x = inception4d_(inception4c_(inception4b_(inception4a_(x))));
  x = maxpool4_(inception4e_(x));
  x = inception5b_(inception5a_(x));
  x = torch::flatten(avgpool_(x), 1);
  return fc_(dropout_(x));
}

std::shared_ptr<GoogLeNet> googlenet(const ModelConfig& config) {
  GoogLeNetOptions options;
  options.num_classes = config.num_classes;
  options.transform_input = config.pretrained;
  options.init = config.init;
  return std::make_shared<GoogLeNet>(options);
}

std::vector<ArchSpec> googlenet_archs() {
  ArchSpec spec;
  spec.name = "googlenet";
  spec.family = "googlenet";
  spec.factory = [](const ModelConfig& c) { return googlenet(c); };
  spec.pretrained_file = "googlenet-1378be20.pth";
  spec.head_weight_key = "fc.weight";
  // googlenet(weights=DEFAULT) sets aux1/aux2 to None after the load (aux_logits=False).
  spec.uncounted_prefixes = {"aux1.", "aux2."};
  return {spec};
}

}  // namespace ptinfer::models
