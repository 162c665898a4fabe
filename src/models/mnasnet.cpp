#include "models/mnasnet.h"

#include <array>
#include <string>

#include "common/error.h"
#include "models/blocks/activation.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/blocks/nested_sequential.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

// The paper's TensorFlow momentum 0.9997 as PyTorch's: 1 - 0.9997 in double, as Python has it.
constexpr double kBnMomentum = 1.0 - 0.9997;

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "MNASNet options: " + message);
}

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t groups,
                Init init) {
  return make_conv(nn::Conv2dOptions(in, out, kernel)
                       .stride(stride)
                       .padding(kernel / 2)
                       .groups(groups)
                       .bias(false),
                   init);
}

nn::BatchNorm2d batch_norm(int64_t features, double momentum = kBnMomentum) {
  return make_batch_norm(features, 1e-5, momentum);
}

// torchvision's _round_to_multiple_of(val, divisor, round_up_bias=0.9): rounds to the nearest
// multiple (at least divisor), then up by one divisor when that falls below 90% of val. Unlike
// _make_divisible the comparison is "new_val >= 0.9 * val" kept, else bumped.
int64_t round_to_multiple_of(double val, int64_t divisor, double round_up_bias = 0.9) {
  const auto rounded = static_cast<int64_t>(val + static_cast<double>(divisor) / 2.0);
  const int64_t new_val = std::max(divisor, rounded / divisor * divisor);
  return static_cast<double>(new_val) >= round_up_bias * val ? new_val : new_val + divisor;
}

// torchvision's _get_depths(alpha).
std::array<int64_t, 8> get_depths(double alpha) {
  constexpr std::array<int64_t, 8> kDepths = {32, 16, 24, 40, 80, 96, 192, 320};
  std::array<int64_t, 8> depths{};
  for (size_t i = 0; i < kDepths.size(); ++i) {
    depths[i] = round_to_multiple_of(static_cast<double>(kDepths[i]) * alpha, 8);
  }
  return depths;
}

// torchvision's _stack: the first block changes size (no skip), the others keep it.
NestedSequential stack(int64_t in_ch, int64_t out_ch, int64_t kernel, int64_t stride,
                       int64_t exp_factor, int64_t repeats, Init init) {
  NestedSequential seq;
  seq->push_back(std::make_shared<MnasInvertedResidual>(in_ch, out_ch, kernel, stride, exp_factor,
                                                        kBnMomentum, init));
  for (int64_t i = 1; i < repeats; ++i) {
    seq->push_back(std::make_shared<MnasInvertedResidual>(out_ch, out_ch, kernel, 1, exp_factor,
                                                          kBnMomentum, init));
  }
  return seq;
}

Activation relu() { return Activation(ActivationKind::kReLU); }

}  // namespace

MnasInvertedResidual::MnasInvertedResidual(int64_t in_ch, int64_t out_ch, int64_t kernel_size,
                                           int64_t stride, int64_t expansion_factor,
                                           double bn_momentum, Init init)
    : apply_residual_(in_ch == out_ch && stride == 1) {
  if (stride != 1 && stride != 2) {
    throw Error(ErrorKind::kInvalidArgument,
                "MNASNet InvertedResidual: stride should be 1 or 2, got " + std::to_string(stride));
  }
  if (kernel_size != 3 && kernel_size != 5) {
    throw Error(ErrorKind::kInvalidArgument,
                "MNASNet InvertedResidual: kernel_size should be 3 or 5, got " +
                    std::to_string(kernel_size));
  }
  const int64_t mid_ch = in_ch * expansion_factor;
  layers_ = register_module(
      "layers", nn::Sequential(conv(in_ch, mid_ch, 1, 1, 1, init),  // pointwise
                               batch_norm(mid_ch, bn_momentum), relu(),
                               conv(mid_ch, mid_ch, kernel_size, stride, mid_ch, init),  // dw
                               batch_norm(mid_ch, bn_momentum), relu(),
                               conv(mid_ch, out_ch, 1, 1, 1, init),  // linear pointwise
                               batch_norm(out_ch, bn_momentum)));
}

torch::Tensor MnasInvertedResidual::forward(torch::Tensor x) {
  if (apply_residual_) return layers_->forward(x) + x;
  return layers_->forward(x);
}

MNASNet::MNASNet(const MNASNetOptions& options) {
  check_option(options.alpha > 0.0, "alpha should be > 0, got " + std::to_string(options.alpha));
  check_option(options.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(options.num_classes));
  check_option(options.dropout >= 0.0 && options.dropout <= 1.0,
               "dropout must be in [0, 1], got " + std::to_string(options.dropout));
  const Init init = options.init;
  const auto d = get_depths(options.alpha);
  layers_ = register_module(
      "layers",
      nn::Sequential(
          // First layer: regular conv.
          conv(3, d[0], 3, 2, 1, init), batch_norm(d[0]), relu(),
          // Depthwise separable, no skip.
          conv(d[0], d[0], 3, 1, d[0], init), batch_norm(d[0]), relu(),
          conv(d[0], d[1], 1, 1, 1, init), batch_norm(d[1]),
          // MNASNet blocks: stacks of inverted residuals (kernel, stride, expansion, repeats).
          stack(d[1], d[2], 3, 2, 3, 3, init), stack(d[2], d[3], 5, 2, 3, 3, init),
          stack(d[3], d[4], 5, 2, 6, 3, init), stack(d[4], d[5], 3, 1, 6, 2, init),
          stack(d[5], d[6], 5, 2, 6, 4, init), stack(d[6], d[7], 3, 1, 6, 1, init),
          // Final mapping to classifier input.
          conv(d[7], 1280, 1, 1, 1, init), batch_norm(1280), relu()));
  classifier_ = register_module(
      "classifier",
      nn::Sequential(nn::Dropout(nn::DropoutOptions(options.dropout)),
                     make_linear(nn::LinearOptions(1280, options.num_classes), init)));

  if (init == Init::kSkip) return;
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* fc = module->as<nn::Linear>()) {
      nn::init::kaiming_uniform_(fc->weight, 0.0, torch::kFanOut, torch::kSigmoid);
      nn::init::zeros_(fc->bias);
    }
  }
}

torch::Tensor MNASNet::forward(torch::Tensor x) {
  check_image_batch(x, "MNASNet");
  // Equivalent to global average pooling and removing H and W, as torchvision computes it.
  x = layers_->forward(x).mean({2, 3});
  return classifier_->forward(x);
}

std::shared_ptr<MNASNet> mnasnet(double alpha, int64_t num_classes, Init init) {
  MNASNetOptions options;
  options.alpha = alpha;
  options.num_classes = num_classes;
  options.init = init;
  return std::make_shared<MNASNet>(options);
}

std::vector<ArchSpec> mnasnet_archs() {
  auto row = [](const char* name, double alpha, const char* file, int64_t resize) {
    ArchSpec spec;
    spec.name = name;
    spec.family = "mnasnet";
    spec.factory = [alpha](const ModelConfig& c) { return mnasnet(alpha, c.num_classes, c.init); };
    spec.pretrained_file = file;
    spec.head_weight_key = "classifier.1.weight";
    // MNASNet._version (torchvision loads a version-1 state dict with a fixed-size stem).
    spec.module_version = [](const std::string& path) -> int64_t { return path.empty() ? 2 : 0; };
    spec.preset.resize_size = resize;
    return spec;
  };
  return {
      row("mnasnet0_5", 0.5, "mnasnet0.5_top1_67.823-3ffadce67e.pth", 256),
      row("mnasnet0_75", 0.75, "mnasnet0_75-7090bc5f.pth", 232),
      row("mnasnet1_0", 1.0, "mnasnet1.0_top1_73.512-f206786ef8.pth", 256),
      row("mnasnet1_3", 1.3, "mnasnet1_3-a4c69d6f.pth", 232),
  };
}

}  // namespace ptinfer::models
