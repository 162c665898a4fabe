// torchvision's StochasticDepth (torchvision/ops/stochastic_depth.py): in training, zeroes the
// residual branch of a whole sample ("row") or of the whole batch ("batch") with probability p
// and rescales survivors by 1 / (1 - p); in eval, the identity (no state-dict entries).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace ptinfer::models {

enum class StochasticDepthMode { kRow, kBatch };

class StochasticDepthImpl : public torch::nn::Module {
 public:
  // Throws Error(kInvalidArgument) unless 0 <= p <= 1.
  StochasticDepthImpl(double p, StochasticDepthMode mode);
  torch::Tensor forward(const torch::Tensor& x);
  double p() const { return p_; }

 private:
  double p_;
  StochasticDepthMode mode_;
};
TORCH_MODULE(StochasticDepth);

}  // namespace ptinfer::models
