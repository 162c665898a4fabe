// torch.nn.init.trunc_normal_ (torch/nn/init.py), which LibTorch 1.13's C++ API lacks: a normal
// distribution N(mean, std^2) truncated to [a, b], drawn by inverse transform sampling as
// PyTorch draws it (uniform in [2 cdf(a) - 1, 2 cdf(b) - 1], erfinv, scale, shift, clamp).
// a and b are absolute bounds, not multiples of std, as in PyTorch.
#pragma once

#include <torch/types.h>

namespace ptinfer::models {

// Fills `tensor` in place (without recording autograd) with draws of the truncated normal.
// Throws Error(kInvalidArgument) unless std > 0 and a < b.
void trunc_normal_(torch::Tensor tensor, double mean, double std, double a, double b);

}  // namespace ptinfer::models
