// torchvision's LayerNorm2d (torchvision/models/convnext.py): nn.LayerNorm over the channels of
// an [N, C, H, W] tensor, applied as permute(0, 2, 3, 1) -> layer_norm over C -> permute(0, 3,
// 1, 2). Its parameters carry nn.LayerNorm's names (weight, bias: [C]), so ConvNeXt's state-dict
// keys read "features.0.1.weight", "classifier.0.bias", ...
//
// It is its own module type, not a torch::nn::LayerNormImpl subclass: code that finds a
// nn::LayerNorm by type normalises the last dimension, which this module does not.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace ptinfer::models {

class LayerNorm2dImpl : public torch::nn::Module {
 public:
  // nn.LayerNorm(channels, eps): weight 1 and bias 0 (elementwise affine). Throws
  // Error(kInvalidArgument) for channels < 1 or eps < 0.
  explicit LayerNorm2dImpl(int64_t channels, double eps = 1e-5);
  // x: [N, C, H, W] -> same shape, each pixel's C values normalised (biased variance) then
  // scaled and shifted per channel. Throws c10::Error when x is not 4-d with C channels.
  torch::Tensor forward(const torch::Tensor& x);
  int64_t channels() const { return channels_; }
  double eps() const { return eps_; }
  void pretty_print(std::ostream& stream) const override;

  torch::Tensor weight, bias;

 private:
  int64_t channels_;
  double eps_;
};
TORCH_MODULE(LayerNorm2d);

}  // namespace ptinfer::models
