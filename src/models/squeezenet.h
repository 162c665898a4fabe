// torchvision 0.14's SqueezeNet 1.0 and 1.1 (torchvision/models/squeezenet.py) as LibTorch
// modules, with torchvision's state-dict names ("features.3.squeeze.weight",
// "classifier.1.weight", ...).
#pragma once

#include <cstdint>
#include <memory>

#include "models/blocks/activation.h"
#include "models/classifier.h"

namespace ptinfer::models {

// torchvision's Fire: squeeze 1x1 conv + ReLU, then the concatenation (channels: expand1x1's,
// then expand3x3's) of a 1x1 and a 3x3 (padding 1) expand conv, each + ReLU. Children: squeeze,
// squeeze_activation, expand1x1, expand1x1_activation, expand3x3, expand3x3_activation.
class FireImpl : public torch::nn::Module {
 public:
  FireImpl(int64_t inplanes, int64_t squeeze_planes, int64_t expand1x1_planes,
           int64_t expand3x3_planes, Init init);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d squeeze_{nullptr}, expand1x1_{nullptr}, expand3x3_{nullptr};
  Activation squeeze_activation_{nullptr}, expand1x1_activation_{nullptr},
      expand3x3_activation_{nullptr};
};
TORCH_MODULE(Fire);

enum class SqueezeNetVersion { k1_0, k1_1 };

struct SqueezeNetOptions {
  SqueezeNetVersion version = SqueezeNetVersion::k1_0;
  int64_t num_classes = 1000;      // channels of classifier.1, the final 1x1 conv
  double dropout = 0.5;            // classifier.0
  Init init = Init::kTorchvision;  // classifier.h; kSkip before a strict load
};

// Children: features (Sequential of the stem conv, ReLU, MaxPool2d(3, 2, ceil_mode) and Fire
// modules as torchvision's version table), classifier (Sequential: dropout, final 1x1 conv
// 512->num_classes, ReLU, adaptive average pool to 1x1); forward flattens to [N, num_classes].
// Initialised as torchvision: every conv kaiming_uniform_ (fan_in, gain sqrt(2)) but the final
// one, normal_(0, 0.01); all biases 0. Dropout is active in train() only.
class SqueezeNet : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for num_classes < 1 or dropout outside [0, 1].
  explicit SqueezeNet(const SqueezeNetOptions& options);
  // x: [N, 3, H, W] (H, W >= 21 for 1.0, >= 17 for 1.1) -> logits [N, num_classes]; throws
  // Error(kInvalidArgument) naming the shape for anything but [N, 3, H, W].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

std::shared_ptr<SqueezeNet> squeezenet(SqueezeNetVersion version, int64_t num_classes,
                                       Init init = Init::kTorchvision);

}  // namespace ptinfer::models
