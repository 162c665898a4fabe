// torchvision's channel_shuffle (torchvision/models/shufflenetv2.py): the channels of
// [N, C, H, W] split into `groups` groups of C / groups, then interleaved (output channel
// j * groups + g is input channel g * (C / groups) + j), as view / transpose / contiguous / view.
// As a function, and as a parameterless module so that the shuffle is a node of the module tree
// that anything walking the model (the fast path) can see.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace ptinfer::models {

// x: [N, C, H, W] with C divisible by groups -> the same shape, channels shuffled. Throws
// Error(kInvalidArgument) naming the shape for another rank, groups < 1 or C % groups != 0.
// Call it qualified (models::channel_shuffle): argument-dependent lookup also finds ATen's
// at::channel_shuffle for a Tensor argument, which makes an unqualified call ambiguous.
torch::Tensor channel_shuffle(const torch::Tensor& x, int64_t groups);

// channel_shuffle(x, groups) as a module. No state-dict entries. Throws Error(kInvalidArgument)
// for groups < 1.
class ChannelShuffleImpl : public torch::nn::Module {
 public:
  explicit ChannelShuffleImpl(int64_t groups);
  torch::Tensor forward(const torch::Tensor& x) { return models::channel_shuffle(x, groups_); }
  int64_t groups() const { return groups_; }
  void pretty_print(std::ostream& stream) const override;

 private:
  int64_t groups_;
};
TORCH_MODULE(ChannelShuffle);

}  // namespace ptinfer::models
