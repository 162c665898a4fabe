// Fast-path kernels made of LibTorch ops only (candidate (a)): the folded model with
// channels_last weights in the compute dtype, at::conv2d with bias (LibTorch sends channels_last
// convolutions to oneDNN), then in-place relu_ / add_. LibTorch allocates each activation.
#pragma once

#include <torch/torch.h>

#include "fastpath/folded_resnet.h"
#include "models/classifier.h"

namespace ptinfer::fastpath {

class TorchResNet : public models::ImageClassifier {
 public:
  // `dtype`: kFloat32 or kBFloat16, the dtype of weights, activations and logits.
  TorchResNet(FoldedResNet folded, torch::ScalarType dtype);
  // x: [N, 3, H, W] float of any dtype -> logits [N, num_classes] in `dtype`. Throws
  // Error(kInvalidArgument) for another shape.
  torch::Tensor forward(torch::Tensor x) override;

 private:
  FoldedResNet net_;
  torch::ScalarType dtype_;
};

}  // namespace ptinfer::fastpath
