// torchvision 0.14's VGG (torchvision/models/vgg.py) as LibTorch modules, with torchvision's
// state-dict names ("features.0.weight", "features.1.running_mean" with BatchNorm,
// "classifier.6.weight", ...).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "models/classifier.h"

namespace ptinfer::models {

// One entry of torchvision's cfgs: a 3x3 conv's output channels, or kVggMaxPool for "M".
inline constexpr int64_t kVggMaxPool = 0;

struct VggOptions {
  std::vector<int64_t> config;     // e.g. vgg_config('A'); see vgg_config
  bool batch_norm = false;         // conv - BatchNorm2d - relu instead of conv - relu
  int64_t num_classes = 1000;      // outputs of classifier.6
  double dropout = 0.5;            // classifier.2 and classifier.5
  Init init = Init::kTorchvision;  // classifier.h; kSkip before a strict load
};

// torchvision's cfgs "A" (vgg11), "B" (vgg13), "D" (vgg16), "E" (vgg19), "M" as kVggMaxPool.
// Throws Error(kInvalidArgument) for any other letter.
const std::vector<int64_t>& vgg_config(char name);

// torchvision's make_layers: for each entry a MaxPool2d(2, 2), or Conv2d(in, v, 3, padding 1)
// [+ BatchNorm2d(v)] + ReLU, starting from 3 channels; children "0", "1", ... Throws
// Error(kInvalidArgument) for a negative entry.
torch::nn::Sequential vgg_make_layers(const std::vector<int64_t>& config, bool batch_norm,
                                      Init init);

// Children: features (vgg_make_layers), avgpool (adaptive, 7x7), classifier (Sequential: linear
// 512*7*7->4096, relu, dropout, linear 4096->4096, relu, dropout, linear 4096->num_classes).
// Initialised as torchvision: convs kaiming_normal_(fan_out, relu) with zero bias, BatchNorm
// weight 1 and bias 0, linears normal_(0, 0.01) with zero bias. Dropout is active in train()
// only.
class Vgg : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for num_classes < 1, dropout outside [0, 1], a config
  // without a conv or whose last conv does not have 512 channels (classifier.0 takes 512*7*7).
  explicit Vgg(const VggOptions& options);
  // x: [N, 3, H, W] (H, W >= 32) -> logits [N, num_classes]; throws Error(kInvalidArgument)
  // naming the shape for anything but [N, 3, H, W].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

// vgg11 ('A'), vgg13 ('B'), vgg16 ('D'), vgg19 ('E'), each with batch_norm as torchvision's *_bn.
std::shared_ptr<Vgg> vgg(char config, bool batch_norm, int64_t num_classes,
                         Init init = Init::kTorchvision);

}  // namespace ptinfer::models
