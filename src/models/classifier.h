// The interface every model of the registry implements: an image classifier whose parameter
// and buffer names are exactly torchvision's, so torchvision state dicts load unchanged.
#pragma once

#include <torch/torch.h>

namespace ptinfer::models {

class ImageClassifier : public torch::nn::Module {
 public:
  // x: [N, 3, H, W] float -> logits [N, num_classes].
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

}  // namespace ptinfer::models
