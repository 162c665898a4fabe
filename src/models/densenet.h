// torchvision 0.14's DenseNet-BC (torchvision/models/densenet.py) as LibTorch modules, with
// torchvision's state-dict names after its own renaming of old checkpoints
// ("features.denseblock1.denselayer1.norm1.weight", "features.transition1.conv.weight",
// "features.norm5.running_var", "classifier.weight", ...). memory_efficient (gradient
// checkpointing) is not implemented: it changes memory use in training only, not the numbers.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "models/blocks/activation.h"
#include "models/classifier.h"

namespace ptinfer::models {

// torchvision's _DenseLayer: concatenation of every earlier feature map (in order), then
// BN - ReLU - 1x1 conv (bn_size * growth_rate channels) - BN - ReLU - 3x3 conv (growth_rate),
// then dropout(drop_rate) in train() only. Children: norm1, relu1, conv1, norm2, relu2, conv2.
class DenseLayerImpl : public torch::nn::Module {
 public:
  DenseLayerImpl(int64_t num_input_features, int64_t growth_rate, int64_t bn_size, double drop_rate,
                 Init init);
  // The new growth_rate channels for `features`, the block's input and earlier layers' outputs.
  torch::Tensor forward(const std::vector<torch::Tensor>& features);

 private:
  torch::nn::BatchNorm2d norm1_{nullptr}, norm2_{nullptr};
  Activation relu1_{nullptr}, relu2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
  double drop_rate_;
};
TORCH_MODULE(DenseLayer);

// torchvision's _DenseBlock: num_layers DenseLayers (children denselayer1, denselayer2, ...),
// the i-th taking num_input_features + i * growth_rate channels; returns the concatenation of
// its input and every layer's output, in that order.
class DenseBlockImpl : public torch::nn::Module {
 public:
  DenseBlockImpl(int64_t num_layers, int64_t num_input_features, int64_t bn_size,
                 int64_t growth_rate, double drop_rate, Init init);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  std::vector<DenseLayer> layers_;
};
TORCH_MODULE(DenseBlock);

// torchvision's _Transition (an nn.Sequential there): BN - ReLU - 1x1 conv - average pool 2x2/2.
// Children: norm, relu, conv, pool.
class TransitionImpl : public torch::nn::Module {
 public:
  TransitionImpl(int64_t num_input_features, int64_t num_output_features, Init init);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::BatchNorm2d norm_{nullptr};
  Activation relu_{nullptr};
  torch::nn::Conv2d conv_{nullptr};
  torch::nn::AvgPool2d pool_{nullptr};
};
TORCH_MODULE(Transition);

struct DenseNetOptions {
  int64_t growth_rate = 32;                               // k of the paper
  std::array<int64_t, 4> block_config = {6, 12, 24, 16};  // layers of denseblock1..4
  int64_t num_init_features = 64;                         // channels of conv0
  int64_t bn_size = 4;             // bottleneck width = bn_size * growth_rate
  double drop_rate = 0.0;          // dropout after each dense layer (train)
  int64_t num_classes = 1000;      // outputs of classifier
  Init init = Init::kTorchvision;  // classifier.h; kSkip before a strict load
};

// Children: features (Sequential with named children conv0 (7x7/2), norm0, relu0, pool0
// (max 3x3/2, padding 1), denseblock1, transition1, ..., denseblock4, norm5; each Transition
// halves the channels), classifier
// (linear). forward: features, ReLU, global average pool, flatten, classifier. Initialised as
// torchvision: convs kaiming_normal_ (fan_in, gain sqrt(2)), BatchNorm weight 1 and bias 0,
// the classifier's bias 0 (its weight keeps nn.Linear's default).
class DenseNet : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for num_classes, growth_rate, num_init_features, bn_size or a
  // block's layer count < 1, or drop_rate outside [0, 1].
  explicit DenseNet(const DenseNetOptions& options);
  // x: [N, 3, H, W] (H, W >= 29) -> logits [N, num_classes]; throws Error(kInvalidArgument)
  // naming the shape for anything but [N, 3, H, W].
  torch::Tensor forward(torch::Tensor x) override;

 private:
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};

// torchvision's configurations: densenet121 (k 32, [6, 12, 24, 16], 64 initial features),
// densenet161 (k 48, [6, 12, 36, 24], 96), densenet169 (k 32, [6, 12, 32, 32], 64),
// densenet201 (k 32, [6, 12, 48, 32], 64).
std::shared_ptr<DenseNet> densenet(int64_t growth_rate, std::array<int64_t, 4> block_config,
                                   int64_t num_init_features, int64_t num_classes,
                                   Init init = Init::kTorchvision);

}  // namespace ptinfer::models
