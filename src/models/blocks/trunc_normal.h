// torch.nn.init.trunc_normal_, which LibTorch 1.13's C++ nn::init lacks: the initialisation of
// ViT's patch stem and of every Swin Linear and relative position bias table.
#pragma once

#include <torch/types.h>

namespace ptinfer::models {

// Fills `tensor` in place (without recording autograd) with values from N(mean, std^2)
// truncated to [a, b], by PyTorch's own method: a uniform draw between the normal CDF at a and
// at b, mapped back through the inverse CDF (erfinv), then clamped to [a, b]. As in PyTorch, a
// and b are absolute bounds, not multiples of std (the default +-2 truncates nothing for
// std 0.02). Throws Error(kInvalidArgument) unless std > 0 and a < b.
void trunc_normal_(torch::Tensor tensor, double mean = 0.0, double std = 1.0, double a = -2.0,
                   double b = 2.0);

}  // namespace ptinfer::models
