// The input contract both fast-path kernel sets share.
#pragma once

#include <torch/torch.h>

namespace ptinfer::fastpath {

// Throws Error(kInvalidArgument) naming the shape unless x is a floating-point [N, 3, H, W]
// tensor with N, H, W >= 1.
void check_input(const torch::Tensor& x);

}  // namespace ptinfer::fastpath
