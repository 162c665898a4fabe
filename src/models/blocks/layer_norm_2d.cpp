#include "models/blocks/layer_norm_2d.h"

#include <torch/torch.h>

#include <string>

#include "common/error.h"

namespace ptinfer::models {

LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps) : channels_(channels), eps_(eps) {
  if (channels < 1 || !(eps >= 0.0)) {
    throw Error(ErrorKind::kInvalidArgument,
                "LayerNorm2d: channels must be >= 1 and eps >= 0, got " + std::to_string(channels) +
                    " and " + std::to_string(eps));
  }
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = x.permute({0, 2, 3, 1});
  y = torch::layer_norm(y, {channels_}, weight, bias, eps_);
  return y.permute({0, 3, 1, 2});
}

void LayerNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "LayerNorm2d(" << channels_ << ", eps=" << eps_ << ")";
}

}  // namespace ptinfer::models
