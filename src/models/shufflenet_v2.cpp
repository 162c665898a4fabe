#include "models/shufflenet_v2.h"

#include <sstream>
#include <string>

#include "common/error.h"
#include "models/blocks/activation.h"
#include "models/blocks/layers.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "ShuffleNetV2 options: " + message);
}

// nn.Conv2d(in, out, kernel, stride, padding, bias=False, groups=groups).
nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t padding, Init init,
                int64_t groups = 1) {
  return make_conv(
      nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).groups(groups).bias(false),
      init);
}

// InvertedResidual.depthwise_conv(i, i, kernel_size=3, stride, padding=1).
nn::Conv2d depthwise_conv3x3(int64_t channels, int64_t stride, Init init) {
  return conv(channels, channels, 3, stride, 1, init, channels);
}

Activation relu() { return Activation(ActivationKind::kReLU); }

}  // namespace

ShuffleNetInvertedResidualImpl::ShuffleNetInvertedResidualImpl(int64_t inp, int64_t oup,
                                                               int64_t stride, Init init)
    : stride_(stride) {
  check_option(stride >= 1 && stride <= 3, "illegal stride value " + std::to_string(stride));
  const int64_t branch_features = oup / 2;
  check_option(stride != 1 || inp == branch_features * 2,
               "invalid combination of stride " + std::to_string(stride) + ", inp " +
                   std::to_string(inp) + " and oup " + std::to_string(oup) +
                   ": with stride 1, inp must equal oup // 2 * 2");
  check_option(inp >= 1 && branch_features >= 1, "inp and oup // 2 must be >= 1, got inp " +
                                                     std::to_string(inp) + ", oup " +
                                                     std::to_string(oup));
  branch1_ = nn::Sequential();
  if (stride > 1) {
    branch1_->push_back(depthwise_conv3x3(inp, stride, init));
    branch1_->push_back(make_batch_norm(inp));
    branch1_->push_back(conv(inp, branch_features, 1, 1, 0, init));
    branch1_->push_back(make_batch_norm(branch_features));
    branch1_->push_back(relu());
  }
  branch1_ = register_module("branch1", branch1_);
  branch2_ = register_module(
      "branch2",
      nn::Sequential(conv(stride > 1 ? inp : branch_features, branch_features, 1, 1, 0, init),
                     make_batch_norm(branch_features), relu(),
                     depthwise_conv3x3(branch_features, stride, init),
                     make_batch_norm(branch_features),
                     conv(branch_features, branch_features, 1, 1, 0, init),
                     make_batch_norm(branch_features), relu()));
  channel_shuffle_ = register_module("channel_shuffle", ChannelShuffle(2));
}

torch::Tensor ShuffleNetInvertedResidualImpl::forward(const torch::Tensor& x) {
  torch::Tensor out;
  if (stride_ == 1) {
    const auto halves = x.chunk(2, /*dim=*/1);
    out = torch::cat({halves[0], branch2_->forward(halves[1])}, 1);
  } else {
    out = torch::cat({branch1_->forward(x), branch2_->forward(x)}, 1);
  }
  return channel_shuffle_(out);
}

ShuffleNetV2::ShuffleNetV2(const std::array<int64_t, 3>& stages_repeats,
                           const std::array<int64_t, 5>& stages_out_channels, int64_t num_classes,
                           Init init) {
  check_option(num_classes >= 1, "num_classes must be >= 1, got " + std::to_string(num_classes));
  for (int64_t r : stages_repeats) {
    check_option(r >= 1, "every stage needs at least one block, got " + std::to_string(r));
  }
  for (int64_t c : stages_out_channels) {
    check_option(c >= 1, "channel counts must be >= 1, got " + std::to_string(c));
  }
  int64_t input_channels = 3;
  int64_t output_channels = stages_out_channels[0];
  conv1_ =
      register_module("conv1", nn::Sequential(conv(input_channels, output_channels, 3, 2, 1, init),
                                              make_batch_norm(output_channels), relu()));
  input_channels = output_channels;
  maxpool_ =
      register_module("maxpool", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  nn::Sequential* stages[] = {&stage2_, &stage3_, &stage4_};
  for (int s = 0; s < 3; ++s) {
    output_channels = stages_out_channels[s + 1];
    nn::Sequential seq;
    seq->push_back(ShuffleNetInvertedResidual(input_channels, output_channels, 2, init));
    for (int64_t i = 0; i < stages_repeats[s] - 1; ++i) {
      seq->push_back(ShuffleNetInvertedResidual(output_channels, output_channels, 1, init));
    }
    *stages[s] = register_module("stage" + std::to_string(s + 2), seq);
    input_channels = output_channels;
  }
  output_channels = stages_out_channels[4];
  conv5_ =
      register_module("conv5", nn::Sequential(conv(input_channels, output_channels, 1, 1, 0, init),
                                              make_batch_norm(output_channels), relu()));
  fc_ = register_module("fc", make_linear(nn::LinearOptions(output_channels, num_classes), init));
  // torchvision runs no initialisation of its own: PyTorch's layer defaults, which LibTorch's
  // constructors have already drawn (kTorchvision) or make_conv/make_linear skipped (kSkip).
}

torch::Tensor ShuffleNetV2::forward(torch::Tensor x) {
  if (x.dim() != 4 || x.size(1) != 3) {
    std::ostringstream shape;
    shape << x.sizes();
    throw Error(ErrorKind::kInvalidArgument,
                "ShuffleNetV2 input must have shape [N, 3, H, W], got " + shape.str());
  }
  x = maxpool_(conv1_->forward(x));
  x = stage4_->forward(stage3_->forward(stage2_->forward(x)));
  x = conv5_->forward(x);
  x = x.mean({2, 3});  // global pool
  return fc_(x);
}

std::shared_ptr<ShuffleNetV2> shufflenet_v2_x0_5(int64_t num_classes, Init init) {
  return std::make_shared<ShuffleNetV2>(std::array<int64_t, 3>{4, 8, 4},
                                        std::array<int64_t, 5>{24, 48, 96, 192, 1024}, num_classes,
                                        init);
}
std::shared_ptr<ShuffleNetV2> shufflenet_v2_x1_0(int64_t num_classes, Init init) {
  return std::make_shared<ShuffleNetV2>(std::array<int64_t, 3>{4, 8, 4},
                                        std::array<int64_t, 5>{24, 116, 232, 464, 1024},
                                        num_classes, init);
}
std::shared_ptr<ShuffleNetV2> shufflenet_v2_x1_5(int64_t num_classes, Init init) {
  return std::make_shared<ShuffleNetV2>(std::array<int64_t, 3>{4, 8, 4},
                                        std::array<int64_t, 5>{24, 176, 352, 704, 1024},
                                        num_classes, init);
}
std::shared_ptr<ShuffleNetV2> shufflenet_v2_x2_0(int64_t num_classes, Init init) {
  return std::make_shared<ShuffleNetV2>(std::array<int64_t, 3>{4, 8, 4},
                                        std::array<int64_t, 5>{24, 244, 488, 976, 2048},
                                        num_classes, init);
}

std::vector<ArchSpec> shufflenet_v2_archs() {
  using Builder = std::shared_ptr<ShuffleNetV2> (*)(int64_t, Init);
  auto row = [](const char* name, Builder build, const char* file, int64_t resize) {
    ArchSpec spec;
    spec.name = name;
    spec.family = "shufflenet_v2";
    spec.factory = [build](const ModelConfig& c) { return build(c.num_classes, c.init); };
    spec.pretrained_file = file;
    spec.head_weight_key = "fc.weight";
    spec.preset.resize_size = resize;
    return spec;
  };
  // x0_5 and x1_0 are ported weights (resize 256); x1_5 and x2_0 come from the new recipe (232).
  return {
      row("shufflenet_v2_x0_5", shufflenet_v2_x0_5, "shufflenetv2_x0.5-f707e7126e.pth", 256),
      row("shufflenet_v2_x1_0", shufflenet_v2_x1_0, "shufflenetv2_x1-5666bf0f80.pth", 256),
      row("shufflenet_v2_x1_5", shufflenet_v2_x1_5, "shufflenetv2_x1_5-3c479a10.pth", 232),
      row("shufflenet_v2_x2_0", shufflenet_v2_x2_0, "shufflenetv2_x2_0-8be3c8ee.pth", 232),
  };
}

}  // namespace ptinfer::models
