#include "models/blocks/layers.h"

#include <torch/nn/init.h>

#include <cmath>

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

// Gives the registered parameter `param` the shape `sizes`, uninitialised (Init::kSkip: a strict
// load writes it next; the pages of a large one are not even touched until then), keeping the
// tensor object that its module's parameter list holds.
void reshape_parameter(torch::Tensor& param, at::IntArrayRef sizes) {
  torch::NoGradGuard no_grad;
  param.set_(torch::empty(sizes));
}

}  // namespace

nn::Conv2d make_conv(const nn::Conv2dOptions& options, Init init) {
  if (init != Init::kSkip) return nn::Conv2d(options);
  nn::Conv2dOptions small = options;
  small.in_channels(options.groups()).out_channels(options.groups());
  nn::Conv2d conv(small);
  conv->options.in_channels(options.in_channels()).out_channels(options.out_channels());
  const auto& k = *options.kernel_size();
  reshape_parameter(conv->weight,
                    {options.out_channels(), options.in_channels() / options.groups(), k[0], k[1]});
  if (options.bias()) reshape_parameter(conv->bias, {options.out_channels()});
  return conv;
}

nn::Linear make_linear(const nn::LinearOptions& options, Init init) {
  if (init != Init::kSkip) return nn::Linear(options);
  nn::Linear linear(nn::LinearOptions(1, 1).bias(options.bias()));
  linear->options = options;
  reshape_parameter(linear->weight, {options.out_features(), options.in_features()});
  if (options.bias()) reshape_parameter(linear->bias, {options.out_features()});
  return linear;
}

nn::BatchNorm2d make_batch_norm(int64_t features, double eps, double momentum) {
  return nn::BatchNorm2d(
      nn::BatchNorm2dOptions(features).eps(eps).momentum(momentum).affine(true).track_running_stats(
          true));
}

nn::LayerNorm make_layer_norm(int64_t features, double eps) {
  return nn::LayerNorm(nn::LayerNormOptions({features}).eps(eps).elementwise_affine(true));
}

int64_t make_divisible(double v, int64_t divisor, std::optional<int64_t> min_value) {
  const int64_t floor = min_value.value_or(divisor);
  // Python: max(min_value, int(v + divisor / 2) // divisor * divisor); int() truncates.
  const auto rounded = static_cast<int64_t>(v + static_cast<double>(divisor) / 2.0);
  int64_t new_v = std::max(floor, rounded / divisor * divisor);
  if (static_cast<double>(new_v) < 0.9 * v) new_v += divisor;
  return new_v;
}

void init_like_torchvision(nn::Module& root, double linear_std) {
  torch::NoGradGuard no_grad;
  for (auto& module : root.modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut);
      if (conv->options.bias()) nn::init::zeros_(conv->bias);
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::ones_(bn->weight);
      nn::init::zeros_(bn->bias);
    } else if (auto* gn = module->as<nn::GroupNorm>()) {
      nn::init::ones_(gn->weight);
      nn::init::zeros_(gn->bias);
    } else if (auto* fc = module->as<nn::Linear>()) {
      if (linear_std > 0) {
        nn::init::normal_(fc->weight, 0.0, linear_std);
      } else {
        const double range = 1.0 / std::sqrt(static_cast<double>(fc->options.out_features()));
        nn::init::uniform_(fc->weight, -range, range);
      }
      if (fc->options.bias()) nn::init::zeros_(fc->bias);
    }
  }
}

}  // namespace ptinfer::models
