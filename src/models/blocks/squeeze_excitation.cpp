#include "models/blocks/squeeze_excitation.h"

#include <torch/torch.h>

#include "models/blocks/layers.h"

namespace ptinfer::models {

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t input_channels, int64_t squeeze_channels,
                                             Init init, ActivationKind activation,
                                             ActivationKind scale_activation) {
  fc1_ = register_module(
      "fc1", make_conv(torch::nn::Conv2dOptions(input_channels, squeeze_channels, 1), init));
  fc2_ = register_module(
      "fc2", make_conv(torch::nn::Conv2dOptions(squeeze_channels, input_channels, 1), init));
  activation_ = register_module("activation", Activation(activation));
  scale_activation_ = register_module("scale_activation", Activation(scale_activation));
}

torch::Tensor SqueezeExcitationImpl::forward(const torch::Tensor& x) {
  torch::Tensor scale = torch::adaptive_avg_pool2d(x, {1, 1});
  scale = scale_activation_(fc2_(activation_(fc1_(scale))));
  return scale * x;
}

}  // namespace ptinfer::models
