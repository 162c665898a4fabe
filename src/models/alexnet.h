// torchvision 0.14's AlexNet (torchvision/models/alexnet.py, the "one weird trick" variant) as
// LibTorch modules, with torchvision's state-dict names ("features.0.weight",
// "classifier.6.weight", ...).
#pragma once

#include <cstdint>
#include <memory>

#include "models/classifier.h"

namespace ptinfer::models {

struct AlexNetOptions {
  int64_t num_classes = 1000;      // outputs of classifier.6
  double dropout = 0.5;            // classifier.0 and classifier.3
  Init init = Init::kTorchvision;  // classifier.h; kSkip before a strict load
};

// Children: features (Sequential: conv 11x11/4 - relu - maxpool, conv 5x5 - relu - maxpool,
// three 3x3 convs with relu, maxpool), avgpool (adaptive, 6x6), classifier (Sequential: dropout,
// linear 9216->4096, relu, dropout, linear 4096->4096, relu, linear 4096->num_classes).
// torchvision leaves every layer at PyTorch's default initialisation, and so does kTorchvision
// (LibTorch's defaults are the same scheme). Dropout is active in train() only.
class AlexNet : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for num_classes < 1 or dropout outside [0, 1].
  explicit AlexNet(const AlexNetOptions& options);
  // x: [N, 3, H, W] (H, W >= 63, torchvision's min_size) -> logits [N, num_classes]; throws
  // Error(kInvalidArgument) naming the shape for anything but [N, 3, H, W].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

std::shared_ptr<AlexNet> alexnet(int64_t num_classes, Init init = Init::kTorchvision);

}  // namespace ptinfer::models
