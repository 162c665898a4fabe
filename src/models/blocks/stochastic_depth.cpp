#include "models/blocks/stochastic_depth.h"

#include <torch/torch.h>

#include <string>

#include "common/error.h"

namespace ptinfer::models {

StochasticDepthImpl::StochasticDepthImpl(double p, StochasticDepthMode mode) : p_(p), mode_(mode) {
  if (!(p >= 0.0 && p <= 1.0)) {
    throw Error(ErrorKind::kInvalidArgument,
                "stochastic depth probability must be in [0, 1], got " + std::to_string(p));
  }
}

torch::Tensor StochasticDepthImpl::forward(const torch::Tensor& x) {
  if (!is_training() || p_ == 0.0) return x;
  const double survival = 1.0 - p_;
  std::vector<int64_t> shape(x.dim(), 1);
  if (mode_ == StochasticDepthMode::kRow) shape[0] = x.size(0);
  torch::Tensor noise = torch::empty(shape, x.options()).bernoulli_(survival);
  if (survival > 0.0) noise.div_(survival);
  return x * noise;
}

}  // namespace ptinfer::models
