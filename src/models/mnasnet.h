// torchvision 0.14's MNASNet (torchvision/models/mnasnet.py, the B1 variant, model version 2:
// depth-scaled stem) as LibTorch modules, with torchvision's state-dict keys ("layers.8.0.layers
// .3.weight", "classifier.1.weight", ...) in torchvision's order. BatchNorm: eps 1e-5, momentum
// 1 - 0.9997 (the paper's TensorFlow momentum 0.9997). torchvision's load-time patch of version 1
// checkpoints (a fixed 32/16-channel stem for alpha != 1) is not reproduced: such a checkpoint
// does not fit the version 2 shapes, and a strict load reports the mismatch.
#pragma once

#include <cstdint>
#include <memory>

#include "models/classifier.h"

namespace ptinfer::models {

// torchvision's mnasnet._InvertedResidual: 1x1 Conv-BN-ReLU to in_ch * expansion_factor, kxk
// depthwise Conv-BN-ReLU (stride, padding k // 2), 1x1 Conv-BN; plus the input when in_ch ==
// out_ch and stride == 1. Child: layers (Sequential "0".."7", ReLUs at 2 and 5).
class MnasInvertedResidual : public torch::nn::Module {
 public:
  // Throws Error(kInvalidArgument) unless stride is 1 or 2 and kernel_size 3 or 5.
  MnasInvertedResidual(int64_t in_ch, int64_t out_ch, int64_t kernel_size, int64_t stride,
                       int64_t expansion_factor, double bn_momentum, Init init);
  torch::Tensor forward(torch::Tensor x);
  bool apply_residual() const { return apply_residual_; }

 private:
  bool apply_residual_;
  torch::nn::Sequential layers_{nullptr};
};

struct MNASNetOptions {
  double alpha = 1.0;  // depth multiplier: channels _round_to_multiple_of(depth * alpha, 8)
  int64_t num_classes = 1000;
  double dropout = 0.2;
  Init init = Init::kTorchvision;
};

// torchvision's MNASNet. Children: layers (Sequential: stem conv/BN/ReLU, depthwise separable
// conv/BN/ReLU/conv/BN, six _stack Sequentials of MnasInvertedResidual, 1x1 conv to 1280, BN,
// ReLU), classifier (Dropout, Linear). Forward pools with mean over H and W. Initialised as
// torchvision: convs kaiming_normal_(fan_out, relu), BN 1/0, Linear kaiming_uniform_(fan_out,
// sigmoid) with zero bias.
class MNASNet : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for alpha <= 0, num_classes < 1 or dropout outside [0, 1].
  explicit MNASNet(const MNASNetOptions& options);
  // x: [N, 3, H, W] (else Error(kInvalidArgument) naming the shape) -> logits [N, num_classes].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential layers_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

// torchvision.models.mnasnet<alpha>(num_classes=...).
std::shared_ptr<MNASNet> mnasnet(double alpha, int64_t num_classes, Init init = Init::kTorchvision);

}  // namespace ptinfer::models
