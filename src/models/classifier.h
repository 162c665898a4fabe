// The interface every model of the registry implements: an image classifier whose parameter
// and buffer names are exactly torchvision's, so torchvision state dicts load unchanged, and the
// options every architecture's factory takes.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace ptinfer::models {

// How a new model's parameters start. kTorchvision: torchvision's initialisation (random, as
// torchvision.models.<arch>() gives). kSkip: for a model whose every parameter and buffer a
// strict state-dict load overwrites next, or whose shapes alone are wanted (inspect, `ptinfer
// models`): convolution and linear parameters are left uninitialised (their pages untouched
// until written), without torchvision's random draws or LibTorch's layer defaults; norms keep
// LibTorch's (weight 1, bias 0, running statistics 0 and 1). Never run a kSkip model without
// loading it. Building resnet50 on a 2-core EPYC took 0.155 s with both draws and 0.08 s without
// torchvision's; without LibTorch's too, `ptinfer validate`'s first prediction came 0.08 s
// earlier (median of 8 paired runs).
enum class Init { kTorchvision, kSkip };

// What torchvision.models.<arch>(...) is called with.
struct ModelConfig {
  int64_t num_classes = 1000;     // outputs of the head
  Init init = Init::kTorchvision;
  // The model is built for torchvision's DEFAULT weights (--pretrained): architectures whose
  // builder changes with weights=... follow it (googlenet's and inception_v3's transform_input,
  // on only then, as torchvision sets it).
  bool pretrained = false;
  // Input size an architecture with a fixed one is built for (ViT's image_size, which sizes its
  // positional embedding; MaxViT's input_size, which sizes its attention partitions); 0: the
  // architecture's default. Others ignore it.
  int64_t image_size = 0;
};

class ImageClassifier : public torch::nn::Module {
 public:
  // x: [N, 3, H, W] float -> logits [N, num_classes]. In training mode too (finetune): models
  // with auxiliary heads (googlenet, inception_v3) return the main logits only.
  virtual torch::Tensor forward(torch::Tensor x) = 0;
};

}  // namespace ptinfer::models
