// The interface every model of the registry implements: an image classifier whose parameter
// and buffer names are exactly torchvision's, so torchvision state dicts load unchanged.
#pragma once

#include <torch/torch.h>

namespace ptinfer::models {

// How a new model's parameters start. kTorchvision: torchvision's initialisation (random, as
// torchvision.models.<arch>() gives). kSkip: for a model whose every parameter and buffer a
// strict state-dict load overwrites next: convolution and fc parameters start at zero, without
// torchvision's random draws or LibTorch's layer defaults; BatchNorm keeps LibTorch's (weight 1,
// bias 0, running statistics 0 and 1). Building resnet50 on a 2-core EPYC took 0.155 s with
// both draws and 0.08 s without torchvision's; without LibTorch's too, `ptinfer validate`'s
// first prediction came 0.08 s earlier (median of 8 paired runs).
enum class Init { kTorchvision, kSkip };

class ImageClassifier : public torch::nn::Module {
 public:
  // x: [N, 3, H, W] float -> logits [N, num_classes].
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

}  // namespace ptinfer::models
