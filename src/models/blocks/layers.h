// The leaf layers every architecture builds from, made with torchvision's defaults and with the
// Init choice of classifier.h: what torchvision's Python writes as nn.Conv2d / nn.Linear /
// nn.BatchNorm2d / nn.LayerNorm, plus torchvision's _make_divisible channel rounding.
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include <cstdint>
#include <optional>

#include "models/classifier.h"

namespace ptinfer::models {

// nn::Conv2d(options). With Init::kSkip (a strict load overwrites every parameter next) the
// module skips LibTorch's own kaiming_uniform_ fill, a serial random draw of every weight: it is
// built with `groups` channels in and out, then given the real channel counts and uninitialised
// parameters of the real shapes. With Init::kTorchvision the weights are LibTorch's default
// (the family's own initialisation runs afterwards, over the whole model).
torch::nn::Conv2d make_conv(const torch::nn::Conv2dOptions& options, Init init);

// nn::Linear(options), with Init::kSkip as make_conv: uninitialised instead of kaiming_uniform_.
torch::nn::Linear make_linear(const torch::nn::LinearOptions& options, Init init);

// nn.BatchNorm2d(features, eps, momentum): affine, tracking running statistics.
torch::nn::BatchNorm2d make_batch_norm(int64_t features, double eps = 1e-5, double momentum = 0.1);

// nn.LayerNorm(features, eps) over the last dimension, elementwise affine.
torch::nn::LayerNorm make_layer_norm(int64_t features, double eps = 1e-5);

// torchvision's _make_divisible(v, divisor, min_value): v rounded to the nearest multiple of
// `divisor` (at least min_value, default divisor), never more than 10% below v. `v` is a Python
// float in torchvision (e.g. 32 * 1.4), so it is a double here.
int64_t make_divisible(double v, int64_t divisor, std::optional<int64_t> min_value = std::nullopt);

// torchvision's usual initialisation, over every module below `root`: convolutions
// kaiming_normal_(fan_out) with zero bias, BatchNorm/GroupNorm weight 1 and bias 0, Linear
// normal_(0, linear_std) with zero bias when linear_std > 0 (uniform(-1/sqrt(out), 1/sqrt(out))
// when linear_std == 0, as efficientnet does). Families whose torchvision init
// differs do their own.
void init_like_torchvision(torch::nn::Module& root, double linear_std);

}  // namespace ptinfer::models
