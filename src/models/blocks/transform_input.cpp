#include "models/blocks/transform_input.h"

#include <torch/torch.h>

namespace ptinfer::models {

torch::Tensor apply_transform_input(const torch::Tensor& x) {
  // The same float operations in the same order as torchvision (Python's double constants).
  const torch::Tensor ch0 =
      torch::unsqueeze(x.select(1, 0), 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5;
  const torch::Tensor ch1 =
      torch::unsqueeze(x.select(1, 1), 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5;
  const torch::Tensor ch2 =
      torch::unsqueeze(x.select(1, 2), 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5;
  return torch::cat({ch0, ch1, ch2}, 1);
}

}  // namespace ptinfer::models
