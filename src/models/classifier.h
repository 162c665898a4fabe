// The interface every model of the registry implements: an image classifier whose parameter
// and buffer names are exactly torchvision's, so torchvision state dicts load unchanged.
#pragma once

#include <torch/torch.h>

namespace ptinfer::models {

// How a new model's parameters start. kTorchvision: torchvision's initialisation (random, as
// torchvision.models.<arch>() gives). kSkip: skips it, leaving LibTorch's layer defaults, for a
// model whose every parameter and buffer a strict state-dict load overwrites next (saves the
// random draws: 0.155 -> 0.08 s for resnet50 on a 2-core EPYC).
enum class Init { kTorchvision, kSkip };

class ImageClassifier : public torch::nn::Module {
 public:
  // x: [N, 3, H, W] float -> logits [N, num_classes].
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

}  // namespace ptinfer::models
