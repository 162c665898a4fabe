// torchvision's _transform_input of googlenet and inception_v3 (transform_input=True, which
// their builders set for weights=DEFAULT): the weights were trained on inputs normalised as
// (x - 0.5) / 0.5, so an ImageNet-normalised x is mapped channel by channel to that range.
#pragma once

#include <torch/types.h>

namespace ptinfer::models {

// x[:, c] * (std[c] / 0.5) + (mean[c] - 0.5) / 0.5 with ImageNet's mean (0.485, 0.456, 0.406)
// and std (0.229, 0.224, 0.225), each channel separately then concatenated, as torchvision's
// Python computes it: [N, 3, H, W] -> [N, 3, H, W] in x's dtype and device. The caller checks
// the shape.
torch::Tensor apply_transform_input(const torch::Tensor& x);

}  // namespace ptinfer::models
