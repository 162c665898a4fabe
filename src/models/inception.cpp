#include "models/inception.h"

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

// BasicConv2d(in, out, kernel_size=(kh, kw), stride, padding=(ph, pw)).
BasicConv2d conv(int64_t in, int64_t out, torch::ExpandingArray<2> kernel, Init init,
                 int64_t stride = 1, torch::ExpandingArray<2> padding = 0) {
  return BasicConv2d(BasicConv2dOptions(in, out, kernel).with_stride(stride).with_padding(padding),
                     init);
}

// F.avg_pool2d(x, kernel_size=3, stride=1, padding=1): count_include_pad, as torchvision.
torch::Tensor avg_pool_3x3(const torch::Tensor& x) {
  return torch::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1});
}

// F.max_pool2d(x, kernel_size=3, stride=2).
torch::Tensor max_pool_3x3_s2(const torch::Tensor& x) {
  return torch::max_pool2d(x, {3, 3}, {2, 2});
}

}  // namespace

InceptionAImpl::InceptionAImpl(int64_t in, int64_t pool_features, Init init) {
  branch1x1_ = register_module("branch1x1", conv(in, 64, 1, init));
  branch5x5_1_ = register_module("branch5x5_1", conv(in, 48, 1, init));
  branch5x5_2_ = register_module("branch5x5_2", conv(48, 64, 5, init, 1, 2));
  branch3x3dbl_1_ = register_module("branch3x3dbl_1", conv(in, 64, 1, init));
  branch3x3dbl_2_ = register_module("branch3x3dbl_2", conv(64, 96, 3, init, 1, 1));
  branch3x3dbl_3_ = register_module("branch3x3dbl_3", conv(96, 96, 3, init, 1, 1));
  branch_pool_ = register_module("branch_pool", conv(in, pool_features, 1, init));
}

torch::Tensor InceptionAImpl::forward(const torch::Tensor& x) {
  return torch::cat(
      {branch1x1_(x), branch5x5_2_(branch5x5_1_(x)),
       branch3x3dbl_3_(branch3x3dbl_2_(branch3x3dbl_1_(x))), branch_pool_(avg_pool_3x3(x))},
      1);
}

InceptionBImpl::InceptionBImpl(int64_t in, Init init) {
  branch3x3_ = register_module("branch3x3", conv(in, 384, 3, init, 2));
  branch3x3dbl_1_ = register_module("branch3x3dbl_1", conv(in, 64, 1, init));
  branch3x3dbl_2_ = register_module("branch3x3dbl_2", conv(64, 96, 3, init, 1, 1));
  branch3x3dbl_3_ = register_module("branch3x3dbl_3", conv(96, 96, 3, init, 2));
}

torch::Tensor InceptionBImpl::forward(const torch::Tensor& x) {
  return torch::cat(
      {branch3x3_(x), branch3x3dbl_3_(branch3x3dbl_2_(branch3x3dbl_1_(x))), max_pool_3x3_s2(x)}, 1);
}

InceptionCImpl::InceptionCImpl(int64_t in, int64_t c7, Init init) {
  branch1x1_ = register_module("branch1x1", conv(in, 192, 1, init));
  branch7x7_1_ = register_module("branch7x7_1", conv(in, c7, 1, init));
  branch7x7_2_ = register_module("branch7x7_2", conv(c7, c7, {1, 7}, init, 1, {0, 3}));
  branch7x7_3_ = register_module("branch7x7_3", conv(c7, 192, {7, 1}, init, 1, {3, 0}));
  branch7x7dbl_1_ = register_module("branch7x7dbl_1", conv(in, c7, 1, init));
  branch7x7dbl_2_ = register_module("branch7x7dbl_2", conv(c7, c7, {7, 1}, init, 1, {3, 0}));
  branch7x7dbl_3_ = register_module("branch7x7dbl_3", conv(c7, c7, {1, 7}, init, 1, {0, 3}));
  branch7x7dbl_4_ = register_module("branch7x7dbl_4", conv(c7, c7, {7, 1}, init, 1, {3, 0}));
  branch7x7dbl_5_ = register_module("branch7x7dbl_5", conv(c7, 192, {1, 7}, init, 1, {0, 3}));
  branch_pool_ = register_module("branch_pool", conv(in, 192, 1, init));
}

torch::Tensor InceptionCImpl::forward(const torch::Tensor& x) {
  torch::Tensor b7 = branch7x7_3_(branch7x7_2_(branch7x7_1_(x)));
  torch::Tensor b7dbl = branch7x7dbl_3_(branch7x7dbl_2_(branch7x7dbl_1_(x)));
  b7dbl = branch7x7dbl_5_(branch7x7dbl_4_(b7dbl));
  return torch::cat({branch1x1_(x), b7, b7dbl, branch_pool_(avg_pool_3x3(x))}, 1);
}

InceptionDImpl::InceptionDImpl(int64_t in, Init init) {
  branch3x3_1_ = register_module("branch3x3_1", conv(in, 192, 1, init));
  branch3x3_2_ = register_module("branch3x3_2", conv(192, 320, 3, init, 2));
  branch7x7x3_1_ = register_module("branch7x7x3_1", conv(in, 192, 1, init));
  branch7x7x3_2_ = register_module("branch7x7x3_2", conv(192, 192, {1, 7}, init, 1, {0, 3}));
  branch7x7x3_3_ = register_module("branch7x7x3_3", conv(192, 192, {7, 1}, init, 1, {3, 0}));
  branch7x7x3_4_ = register_module("branch7x7x3_4", conv(192, 192, 3, init, 2));
}

torch::Tensor InceptionDImpl::forward(const torch::Tensor& x) {
  torch::Tensor b7 = branch7x7x3_2_(branch7x7x3_1_(x));
  b7 = branch7x7x3_4_(branch7x7x3_3_(b7));
  return torch::cat({branch3x3_2_(branch3x3_1_(x)), b7, max_pool_3x3_s2(x)}, 1);
}

InceptionEImpl::InceptionEImpl(int64_t in, Init init) {
  branch1x1_ = register_module("branch1x1", conv(in, 320, 1, init));
  branch3x3_1_ = register_module("branch3x3_1", conv(in, 384, 1, init));
  branch3x3_2a_ = register_module("branch3x3_2a", conv(384, 384, {1, 3}, init, 1, {0, 1}));
  branch3x3_2b_ = register_module("branch3x3_2b", conv(384, 384, {3, 1}, init, 1, {1, 0}));
  branch3x3dbl_1_ = register_module("branch3x3dbl_1", conv(in, 448, 1, init));
  branch3x3dbl_2_ = register_module("branch3x3dbl_2", conv(448, 384, 3, init, 1, 1));
  branch3x3dbl_3a_ = register_module("branch3x3dbl_3a", conv(384, 384, {1, 3}, init, 1, {0, 1}));
  branch3x3dbl_3b_ = register_module("branch3x3dbl_3b", conv(384, 384, {3, 1}, init, 1, {1, 0}));
  branch_pool_ = register_module("branch_pool", conv(in, 192, 1, init));
}

torch::Tensor InceptionEImpl::forward(const torch::Tensor& x) {
  const torch::Tensor b3 = branch3x3_1_(x);
  const torch::Tensor b3dbl = branch3x3dbl_2_(branch3x3dbl_1_(x));
  return torch::cat({branch1x1_(x), torch::cat({branch3x3_2a_(b3), branch3x3_2b_(b3)}, 1),
                     torch::cat({branch3x3dbl_3a_(b3dbl), branch3x3dbl_3b_(b3dbl)}, 1),
                     branch_pool_(avg_pool_3x3(x))},
                    1);
}

InceptionAuxImpl::InceptionAuxImpl(int64_t in, int64_t num_classes, Init init) {
  register_module("conv0", conv(in, 128, 1, init));
  register_module("conv1", conv(128, 768, 5, init));
  fc_ = register_module("fc", make_linear(nn::LinearOptions(768, num_classes), init));
}

InceptionV3::InceptionV3(const InceptionV3Options& o) : options_(o) {
  if (o.num_classes < 1 || !(o.dropout >= 0.0 && o.dropout <= 1.0)) {
    throw Error(ErrorKind::kInvalidArgument,
                "Inception3 options: num_classes must be >= 1 and dropout in [0, 1], got " +
                    std::to_string(o.num_classes) + " and " + std::to_string(o.dropout));
  }
  const Init init = o.init;
  conv2d_1a_3x3_ = register_module("Conv2d_1a_3x3", conv(3, 32, 3, init, 2));
  conv2d_2a_3x3_ = register_module("Conv2d_2a_3x3", conv(32, 32, 3, init));
  conv2d_2b_3x3_ = register_module("Conv2d_2b_3x3", conv(32, 64, 3, init, 1, 1));
  maxpool1_ = register_module("maxpool1", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2)));
  conv2d_3b_1x1_ = register_module("Conv2d_3b_1x1", conv(64, 80, 1, init));
  conv2d_4a_3x3_ = register_module("Conv2d_4a_3x3", conv(80, 192, 3, init));
  maxpool2_ = register_module("maxpool2", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2)));
  mixed_5b_ = register_module("Mixed_5b", InceptionA(192, 32, init));
  mixed_5c_ = register_module("Mixed_5c", InceptionA(256, 64, init));
  mixed_5d_ = register_module("Mixed_5d", InceptionA(288, 64, init));
  mixed_6a_ = register_module("Mixed_6a", InceptionB(288, init));
  mixed_6b_ = register_module("Mixed_6b", InceptionC(768, 128, init));
  mixed_6c_ = register_module("Mixed_6c", InceptionC(768, 160, init));
  mixed_6d_ = register_module("Mixed_6d", InceptionC(768, 160, init));
  mixed_6e_ = register_module("Mixed_6e", InceptionC(768, 192, init));
  aux_logits_ = register_module("AuxLogits", InceptionAux(768, o.num_classes, init));
  mixed_7a_ = register_module("Mixed_7a", InceptionD(768, init));
  mixed_7b_ = register_module("Mixed_7b", InceptionE(1280, init));
  mixed_7c_ = register_module("Mixed_7c", InceptionE(2048, init));
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  dropout_ = register_module("dropout", nn::Dropout(o.dropout));
  fc_ = register_module("fc", make_linear(nn::LinearOptions(2048, o.num_classes), init));

  if (init == Init::kSkip) return;
  torch::NoGradGuard no_grad;
  const nn::Linear& aux_fc = aux_logits_->fc();
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<nn::Conv2d>()) {
      trunc_normal_(c->weight, 0.0, 0.1, -2.0, 2.0);
    } else if (auto* fc = module->as<nn::Linear>()) {
      trunc_normal_(fc->weight, 0.0, fc == aux_fc.get() ? 0.001 : 0.1, -2.0, 2.0);
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    }
  }
}

torch::Tensor InceptionV3::forward(torch::Tensor x) {
  check_image_batch(x, "Inception3");
  if (options_.transform_input) x = apply_transform_input(x);
  x = conv2d_2b_3x3_(conv2d_2a_3x3_(conv2d_1a_3x3_(x)));
  x = maxpool1_(x);
  x = maxpool2_(conv2d_4a_3x3_(conv2d_3b_1x1_(x)));
  x = mixed_5d_(mixed_5c_(mixed_5b_(x)));
  x = mixed_6a_(x);
  x = mixed_6e_(mixed_6d_(mixed_6c_(mixed_6b_(x))));
  // torchvision runs AuxLogits here in training only, for a loss that ImageClassifier does not
  // return: it is not run.
  x = mixed_7c_(mixed_7b_(mixed_7a_(x)));
  x = dropout_(avgpool_(x));
  return fc_(torch::flatten(x, 1));
}

std::shared_ptr<InceptionV3> inception_v3(const ModelConfig& config) {
  InceptionV3Options options;
  options.num_classes = config.num_classes;
  options.transform_input = config.pretrained;
  options.init = config.init;
  return std::make_shared<InceptionV3>(options);
}

std::vector<ArchSpec> inception_archs() {
  ArchSpec spec;
  spec.name = "inception_v3";
  spec.family = "inception";
  spec.factory = [](const ModelConfig& c) { return inception_v3(c); };
  spec.pretrained_file = "inception_v3_google-0cc3c7bd.pth";
  spec.head_weight_key = "fc.weight";
  spec.preset.resize_size = 342;
  spec.preset.crop_size = 299;
  return {spec};
}

}  // namespace ptinfer::models
