// torch.nn.init.trunc_normal_ (torch/nn/init.py), which LibTorch 1.13's C++ nn::init lacks: a
// normal(mean, std) draw truncated to [a, b], by inverse-CDF sampling as PyTorch does it.
#pragma once

#include <torch/types.h>

namespace ptinfer::models {

// Fills `tensor` in place (without autograd) as trunc_normal_(tensor, mean, std, a, b): uniform
// in [2 F(a) - 1, 2 F(b) - 1] with F the normal CDF of (v - mean) / std, then erfinv, times
// std * sqrt(2), plus mean, clamped to [a, b]. a and b are absolute bounds (PyTorch's default
// -2 and 2), not multiples of std. Returns `tensor`. Throws Error(kInvalidArgument) unless
// std > 0 and a < b.
torch::Tensor trunc_normal_(torch::Tensor tensor, double mean = 0.0, double std = 1.0,
                            double a = -2.0, double b = 2.0);

}  // namespace ptinfer::models
