// torchvision's SqueezeExcitation (torchvision/ops/misc.py): x * scale_act(fc2(act(fc1(
// avgpool(x))))), fc1/fc2 1x1 convolutions with bias. State-dict keys: fc1.weight, fc1.bias,
// fc2.weight, fc2.bias.
#pragma once

#include <torch/nn/modules/conv.h>

#include "models/blocks/activation.h"
#include "models/classifier.h"

namespace ptinfer::models {

class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  // activation: between fc1 and fc2 (ReLU in torchvision's default, SiLU in EfficientNet);
  // scale_activation: on the scale (Sigmoid, Hardsigmoid in MobileNetV3).
  SqueezeExcitationImpl(int64_t input_channels, int64_t squeeze_channels, Init init,
                        ActivationKind activation = ActivationKind::kReLU,
                        ActivationKind scale_activation = ActivationKind::kSigmoid);
  // x: [N, C, H, W] -> x scaled per channel, same shape.
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d fc1_{nullptr}, fc2_{nullptr};
  Activation activation_{nullptr}, scale_activation_{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

}  // namespace ptinfer::models
