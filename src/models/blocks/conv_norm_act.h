// torchvision's Conv2dNormActivation (torchvision/ops/misc.py): conv, then an optional
// BatchNorm, then an optional activation, as an nn::Sequential whose children are "0", "1",
// "2", so that state-dict keys read "features.3.0.weight", "features.3.1.running_mean", ...
#pragma once

#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <optional>

#include "models/blocks/activation.h"
#include "models/classifier.h"

namespace ptinfer::models {

// nn.BatchNorm2d's eps and momentum; families pass torchvision's partial(nn.BatchNorm2d, ...).
struct BatchNormSpec {
  double eps = 1e-5;
  double momentum = 0.1;
};

struct ConvNormActOptions {
  ConvNormActOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size = 3)
      : in(in_channels), out(out_channels), kernel(kernel_size) {}
  int64_t in, out;
  int64_t kernel;
  int64_t stride = 1;
  std::optional<int64_t> padding;             // default (kernel - 1) / 2 * dilation
  int64_t groups = 1;
  int64_t dilation = 1;
  std::optional<BatchNormSpec> norm = BatchNormSpec{};  // nullopt: no norm layer
  std::optional<ActivationKind> activation = ActivationKind::kReLU;  // nullopt: none
  std::optional<bool> bias;                   // default: a bias only without a norm layer

  ConvNormActOptions& with_stride(int64_t s) { stride = s; return *this; }
  ConvNormActOptions& with_groups(int64_t g) { groups = g; return *this; }
  ConvNormActOptions& with_padding(int64_t p) { padding = p; return *this; }
  ConvNormActOptions& with_dilation(int64_t d) { dilation = d; return *this; }
  ConvNormActOptions& with_norm(std::optional<BatchNormSpec> n) { norm = n; return *this; }
  ConvNormActOptions& with_activation(std::optional<ActivationKind> a) { activation = a; return *this; }
  ConvNormActOptions& with_bias(bool b) { bias = b; return *this; }
};

// The Sequential [Conv2d, BatchNorm2d?, Activation?] of torchvision's Conv2dNormActivation.
// Throws Error(kInvalidArgument) for non-positive channels, kernel, stride, groups or dilation,
// or channels not divisible by groups.
torch::nn::Sequential conv_norm_act(const ConvNormActOptions& options, Init init);

}  // namespace ptinfer::models
