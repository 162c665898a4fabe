#include "models/resnet.h"

#include <sstream>
#include <string>
#include <utility>

#include "common/error.h"
#include "models/blocks/layers.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

// torchvision's conv3x3 / conv1x1 helpers (dilation 1): no bias, padding keeps the size.
nn::Conv2d conv3x3(int64_t in, int64_t out, Init init, int64_t stride = 1, int64_t groups = 1) {
  return make_conv(
      nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).groups(groups).bias(false), init);
}

nn::Conv2d conv1x1(int64_t in, int64_t out, Init init, int64_t stride = 1) {
  return make_conv(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false), init);
}

// nn.BatchNorm2d's defaults (eps 1e-5, momentum 0.1) decide the eval-mode arithmetic.
nn::BatchNorm2d batch_norm(int64_t features) { return make_batch_norm(features); }

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "ResNet options: " + message);
}

std::shared_ptr<ResNet> make(BlockKind block, std::array<int64_t, 4> layers, int64_t groups,
                             int64_t width_per_group, int64_t num_classes, bool zero_init_residual,
                             Init init) {
  ResNetOptions options;
  options.block = block;
  options.layers = layers;
  options.groups = groups;
  options.width_per_group = width_per_group;
  options.num_classes = num_classes;
  options.zero_init_residual = zero_init_residual;
  options.init = init;
  return std::make_shared<ResNet>(options);
}

}  // namespace

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int64_t stride,
                       torch::nn::Sequential downsample, int64_t groups, int64_t base_width,
                       Init init) {
  check_option(groups == 1 && base_width == 64,
               "BasicBlock only supports groups=1 and width_per_group=64");
  // Registration order = torchvision's attribute order = state_dict order.
  conv1_ = register_module("conv1", conv3x3(inplanes, planes, init, stride));
  bn1_ = register_module("bn1", batch_norm(planes));
  relu_ = register_module("relu", nn::ReLU(nn::ReLUOptions(true)));
  conv2_ = register_module("conv2", conv3x3(planes, planes, init));
  bn2_ = register_module("bn2", batch_norm(planes));
  if (downsample) downsample_ = register_module("downsample", std::move(downsample));
}

torch::Tensor BasicBlock::forward(torch::Tensor x) {
  torch::Tensor out = relu_(bn1_(conv1_(x)));
  out = bn2_(conv2_(out));
  // In-place add and ReLU as torchvision: same arithmetic, one buffer fewer.
  out += downsample_ ? downsample_->forward(x) : x;
  return out.relu_();
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int64_t stride,
                       torch::nn::Sequential downsample, int64_t groups, int64_t base_width,
                       Init init) {
  // Python computes int(planes * (base_width / 64.0)) * groups: a float product, truncated.
  const auto width =
      static_cast<int64_t>(static_cast<double>(planes) * (static_cast<double>(base_width) / 64.0)) *
      groups;
  check_option(width >= 1, "Bottleneck width is 0 (width_per_group too small)");
  conv1_ = register_module("conv1", conv1x1(inplanes, width, init));
  bn1_ = register_module("bn1", batch_norm(width));
  // V1.5: the stride sits on the 3x3 conv, not on conv1.
  conv2_ = register_module("conv2", conv3x3(width, width, init, stride, groups));
  bn2_ = register_module("bn2", batch_norm(width));
  conv3_ = register_module("conv3", conv1x1(width, planes * kExpansion, init));
  bn3_ = register_module("bn3", batch_norm(planes * kExpansion));
  relu_ = register_module("relu", nn::ReLU(nn::ReLUOptions(true)));
  if (downsample) downsample_ = register_module("downsample", std::move(downsample));
}

torch::Tensor Bottleneck::forward(torch::Tensor x) {
  torch::Tensor out = relu_(bn1_(conv1_(x)));
  out = relu_(bn2_(conv2_(out)));
  out = bn3_(conv3_(out));
  out += downsample_ ? downsample_->forward(x) : x;
  return out.relu_();
}

ResNet::ResNet(const ResNetOptions& options) : options_(options) {
  check_option(options.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(options.num_classes));
  for (int64_t n : options.layers) {
    check_option(n >= 1, "every layer needs at least one block, got " + std::to_string(n));
  }
  check_option(options.groups >= 1, "groups must be >= 1, got " + std::to_string(options.groups));
  check_option(options.width_per_group >= 1,
               "width_per_group must be >= 1, got " + std::to_string(options.width_per_group));
  if (options.block == BlockKind::kBasic) {
    check_option(options.groups == 1 && options.width_per_group == 64,
                 "BasicBlock only supports groups=1 and width_per_group=64");
  }
  const int64_t expansion =
      options.block == BlockKind::kBasic ? BasicBlock::kExpansion : Bottleneck::kExpansion;

  conv1_ = register_module(
      "conv1",
      make_conv(nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false), options.init));
  bn1_ = register_module("bn1", batch_norm(64));
  relu_ = register_module("relu", nn::ReLU(nn::ReLUOptions(true)));
  maxpool_ =
      register_module("maxpool", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  layer1_ = register_module("layer1", make_layer(64, options.layers[0], 1));
  layer2_ = register_module("layer2", make_layer(128, options.layers[1], 2));
  layer3_ = register_module("layer3", make_layer(256, options.layers[2], 2));
  layer4_ = register_module("layer4", make_layer(512, options.layers[3], 2));
  avgpool_ = register_module("avgpool", nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)));
  fc_ = register_module(
      "fc", make_linear(nn::LinearOptions(512 * expansion, options.num_classes), options.init));

  if (options.init == Init::kSkip) return;
  // torchvision's initialisation; fc keeps nn.Linear's default (LibTorch's is the same scheme).
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::constant_(bn->weight, 1.0);
      nn::init::constant_(bn->bias, 0.0);
    }
  }
  // Each residual branch then starts as zero, so every block starts as the identity.
  if (options.zero_init_residual) {
    for (auto& module : modules(/*include_self=*/false)) {
      if (auto* block = module->as<Bottleneck>()) {
        nn::init::constant_(block->last_bn()->weight, 0.0);
      } else if (auto* basic = module->as<BasicBlock>()) {
        nn::init::constant_(basic->last_bn()->weight, 0.0);
      }
    }
  }
}

torch::nn::Sequential ResNet::make_layer(int64_t planes, int64_t blocks, int64_t stride) {
  const bool basic = options_.block == BlockKind::kBasic;
  const int64_t out_planes = planes * (basic ? BasicBlock::kExpansion : Bottleneck::kExpansion);
  nn::Sequential downsample{nullptr};
  if (stride != 1 || inplanes_ != out_planes) {
    downsample = nn::Sequential(conv1x1(inplanes_, out_planes, options_.init, stride),
                                batch_norm(out_planes));
  }
  nn::Sequential layer;
  for (int64_t i = 0; i < blocks; ++i) {
    // Only the first block changes resolution and channel count.
    const int64_t block_stride = i == 0 ? stride : 1;
    nn::Sequential block_downsample = i == 0 ? downsample : nn::Sequential{nullptr};
    if (basic) {
      layer->push_back(std::make_shared<BasicBlock>(inplanes_, planes, block_stride,
                                                    block_downsample, options_.groups,
                                                    options_.width_per_group, options_.init));
    } else {
      layer->push_back(std::make_shared<Bottleneck>(inplanes_, planes, block_stride,
                                                    block_downsample, options_.groups,
                                                    options_.width_per_group, options_.init));
    }
    inplanes_ = out_planes;
  }
  return layer;
}

torch::Tensor ResNet::forward(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != 3) {
    std::ostringstream shape;
    shape << x.sizes();
    throw Error(ErrorKind::kInvalidArgument,
                "ResNet input must have shape [N, 3, H, W], got " + shape.str());
  }
  x = maxpool_(relu_(bn1_(conv1_(x))));
  x = layer4_->forward(layer3_->forward(layer2_->forward(layer1_->forward(x))));
  x = torch::flatten(avgpool_(x), 1);
  return fc_(x);
}

torch::Tensor forward_top_level_child(torch::nn::Module& child, const torch::Tensor& x) {
  if (auto* c = child.as<nn::Conv2d>()) return c->forward(x);
  if (auto* b = child.as<nn::BatchNorm2d>()) return b->forward(x);
  if (auto* r = child.as<nn::ReLU>()) return r->forward(x);
  if (auto* p = child.as<nn::MaxPool2d>()) return p->forward(x);
  if (auto* s = child.as<nn::Sequential>()) return s->forward(x);
  if (auto* a = child.as<nn::AdaptiveAvgPool2d>()) return a->forward(x);
  if (auto* l = child.as<nn::Linear>()) return l->forward(torch::flatten(x, 1));
  throw Error(ErrorKind::kInternal, "not a ResNet top-level child: " + child.name());
}

std::shared_ptr<ResNet> resnet18(int64_t num_classes, bool zero_init_residual, Init init) {
  return make(BlockKind::kBasic, {2, 2, 2, 2}, 1, 64, num_classes, zero_init_residual, init);
}
std::shared_ptr<ResNet> resnet34(int64_t num_classes, bool zero_init_residual, Init init) {
  return make(BlockKind::kBasic, {3, 4, 6, 3}, 1, 64, num_classes, zero_init_residual, init);
}
std::shared_ptr<ResNet> resnet50(int64_t num_classes, bool zero_init_residual, Init init) {
  return make(BlockKind::kBottleneck, {3, 4, 6, 3}, 1, 64, num_classes, zero_init_residual, init);
}
std::shared_ptr<ResNet> resnet101(int64_t num_classes, bool zero_init_residual, Init init) {
  return make(BlockKind::kBottleneck, {3, 4, 23, 3}, 1, 64, num_classes, zero_init_residual, init);
}
std::shared_ptr<ResNet> resnet152(int64_t num_classes, bool zero_init_residual, Init init) {
  return make(BlockKind::kBottleneck, {3, 8, 36, 3}, 1, 64, num_classes, zero_init_residual, init);
}
std::shared_ptr<ResNet> resnext50_32x4d(int64_t num_classes, bool zero_init_residual, Init init) {
  return make(BlockKind::kBottleneck, {3, 4, 6, 3}, 32, 4, num_classes, zero_init_residual, init);
}
std::shared_ptr<ResNet> resnext101_32x8d(int64_t num_classes, bool zero_init_residual, Init init) {
  return make(BlockKind::kBottleneck, {3, 4, 23, 3}, 32, 8, num_classes, zero_init_residual, init);
}
std::shared_ptr<ResNet> resnext101_64x4d(int64_t num_classes, bool zero_init_residual, Init init) {
  return make(BlockKind::kBottleneck, {3, 4, 23, 3}, 64, 4, num_classes, zero_init_residual, init);
}
std::shared_ptr<ResNet> wide_resnet50_2(int64_t num_classes, bool zero_init_residual, Init init) {
  return make(BlockKind::kBottleneck, {3, 4, 6, 3}, 1, 128, num_classes, zero_init_residual, init);
}
std::shared_ptr<ResNet> wide_resnet101_2(int64_t num_classes, bool zero_init_residual, Init init) {
  return make(BlockKind::kBottleneck, {3, 4, 23, 3}, 1, 128, num_classes, zero_init_residual, init);
}

std::vector<ArchSpec> resnet_archs() {
  using Builder = std::shared_ptr<ResNet> (*)(int64_t, bool, Init);
  auto row = [](const char* name, Builder build, const char* file, int64_t resize) {
    ArchSpec spec;
    spec.name = name;
    spec.family = "resnet";
    spec.factory = [build](const ModelConfig& c) { return build(c.num_classes, false, c.init); };
    spec.pretrained_file = file;
    spec.head_weight_key = "fc.weight";
    spec.preset.resize_size = resize;
    return spec;
  };
  // The V2 recipe's weights (DEFAULT for resnet50 and most larger nets) resize to 232.
  return {
      row("resnet18", resnet18, "resnet18-f37072fd.pth", 256),
      row("resnet34", resnet34, "resnet34-b627a593.pth", 256),
      row("resnet50", resnet50, "resnet50-11ad3fa6.pth", 232),
      row("resnet101", resnet101, "resnet101-cd907fc2.pth", 232),
      row("resnet152", resnet152, "resnet152-f82ba261.pth", 232),
      row("resnext50_32x4d", resnext50_32x4d, "resnext50_32x4d-1a0047aa.pth", 232),
      row("resnext101_32x8d", resnext101_32x8d, "resnext101_32x8d-110c445d.pth", 232),
      row("resnext101_64x4d", resnext101_64x4d, "resnext101_64x4d-173b62eb.pth", 232),
      row("wide_resnet50_2", wide_resnet50_2, "wide_resnet50_2-9ba9bcbe.pth", 232),
      row("wide_resnet101_2", wide_resnet101_2, "wide_resnet101_2-d733dc28.pth", 232),
  };
}

}  // namespace ptinfer::models
