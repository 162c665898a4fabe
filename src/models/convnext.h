// torchvision 0.14's ConvNeXt family (torchvision/models/convnext.py) as LibTorch modules.
//
// Every submodule is registered under torchvision's attribute name and in its __init__ order, so
// parameter and buffer names and their order are torchvision's state-dict keys
// ("features.1.0.layer_scale", "features.1.0.block.0.weight", "features.2.0.bias",
// "classifier.2.weight", ...) and torchvision checkpoints load unchanged.
//
// Norms are LayerNorm2d / nn.LayerNorm with eps 1e-6; GELU is the exact (erf) form; stochastic
// depth ("row") is active only in train() and grows linearly with the block index.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "models/blocks/nested_sequential.h"
#include "models/blocks/stochastic_depth.h"
#include "models/classifier.h"

namespace ptinfer::models {

// torchvision's CNBlock: input + stochastic_depth(layer_scale * block(input)), block the
// Sequential [Conv2d 7x7 depthwise (bias), Permute(0, 2, 3, 1), LayerNorm(dim, eps 1e-6),
// Linear(dim, 4 dim), GELU, Linear(4 dim, dim), Permute(0, 3, 1, 2)].
// Own parameter: layer_scale [dim, 1, 1], filled with `layer_scale`. Children: block,
// stochastic_depth. Throws Error(kInvalidArgument) for dim < 1 or a probability outside [0, 1].
class CNBlockImpl : public torch::nn::Module {
 public:
  CNBlockImpl(int64_t dim, double layer_scale, double stochastic_depth_prob, Init init);
  // x: [N, dim, H, W] -> same shape.
  torch::Tensor forward(const torch::Tensor& x);
  const StochasticDepth& stochastic_depth() const { return stochastic_depth_; }

 private:
  torch::nn::Sequential block_{nullptr};
  torch::Tensor layer_scale_;
  StochasticDepth stochastic_depth_{nullptr};
};
TORCH_MODULE(CNBlock);

// torchvision's CNBlockConfig: one stage of num_layers CNBlocks at input_channels, followed by
// a downsampling to out_channels (none for the last stage).
struct CNBlockConfig {
  int64_t input_channels;
  std::optional<int64_t> out_channels;
  int64_t num_layers;
};

struct ConvNeXtOptions {
  std::vector<CNBlockConfig> block_setting;
  double stochastic_depth_prob = 0.0;  // of the last block; block i gets p * i / (blocks - 1)
  double layer_scale = 1e-6;           // CNBlock's layer_scale start value
  int64_t num_classes = 1000;
  Init init = Init::kTorchvision;  // classifier.h; kSkip before a strict load
};

// torchvision's ConvNeXt. Children: features (Sequential: "0" the stem [Conv2d 4x4 stride 4
// (bias), LayerNorm2d]; then per stage a Sequential of CNBlocks, followed, where out_channels is
// set, by a downsampling Sequential [LayerNorm2d, Conv2d 2x2 stride 2]), avgpool, classifier
// (Sequential [LayerNorm2d, Flatten, Linear]). With Init::kTorchvision every Conv2d and Linear
// weight is trunc_normal_(std 0.02) (bounds +-2) and every bias 0; norms start at 1 and 0.
class ConvNeXt : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for an empty block_setting, channels or num_layers < 1,
  // num_classes < 1, or a stochastic depth probability outside [0, 1].
  explicit ConvNeXt(const ConvNeXtOptions& options);
  // x: [N, 3, H, W] float -> logits [N, num_classes]. Throws Error(kInvalidArgument) naming the
  // shape for anything but [N, 3, H, W] (check_image_batch), and for H or W below
  // min_input_size().
  torch::Tensor forward(torch::Tensor x) override;
  // The stem's stride times 2 per downsampling (32 for torchvision's four stages): the smallest
  // side every downsampling convolution still gets a pixel from.
  int64_t min_input_size() const;
  const ConvNeXtOptions& options() const { return options_; }

 private:
  ConvNeXtOptions options_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

// torchvision's configurations (stages' channels x blocks; last block's stochastic depth):
// tiny 96-192-384-768 x 3-3-9-3 (0.1), small 96-192-384-768 x 3-3-27-3 (0.4),
// base 128-256-512-1024 x 3-3-27-3 (0.5), large 192-384-768-1536 x 3-3-27-3 (0.5).
std::shared_ptr<ConvNeXt> convnext_tiny(int64_t num_classes, Init init = Init::kTorchvision);
std::shared_ptr<ConvNeXt> convnext_small(int64_t num_classes, Init init = Init::kTorchvision);
std::shared_ptr<ConvNeXt> convnext_base(int64_t num_classes, Init init = Init::kTorchvision);
std::shared_ptr<ConvNeXt> convnext_large(int64_t num_classes, Init init = Init::kTorchvision);

}  // namespace ptinfer::models
