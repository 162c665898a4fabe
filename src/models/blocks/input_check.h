// The input check every image classifier's forward() starts with (ResNet::forward's, shared).
#pragma once

#include <torch/types.h>

#include <string>

namespace ptinfer::models {

// Throws Error(kInvalidArgument) "<model> input must have shape [N, 3, H, W], got <shape>"
// unless `x` is a 4-dimensional batch with 3 channels. Any N, H, W pass (the convolutions reject
// what they cannot take).
void check_image_batch(const torch::Tensor& x, const std::string& model);

}  // namespace ptinfer::models
