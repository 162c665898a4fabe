#include "models/blocks/trunc_normal.h"

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "common/error.h"

namespace ptinfer::models {

torch::Tensor trunc_normal_(torch::Tensor tensor, double mean, double std, double a, double b) {
  if (!(std > 0.0) || !(a < b)) {
    throw Error(ErrorKind::kInvalidArgument, "trunc_normal_: needs std > 0 and a < b, got std " +
                                                 std::to_string(std) + ", [" + std::to_string(a) +
                                                 ", " + std::to_string(b) + "]");
  }
  auto norm_cdf = [](double v) { return (1.0 + std::erf(v / std::sqrt(2.0))) / 2.0; };
  const double low = norm_cdf((a - mean) / std);
  const double high = norm_cdf((b - mean) / std);
  torch::NoGradGuard no_grad;
  tensor.uniform_(2.0 * low - 1.0, 2.0 * high - 1.0);
  tensor.erfinv_();
  tensor.mul_(std * std::sqrt(2.0));
  tensor.add_(mean);
  tensor.clamp_(a, b);
  return tensor;
}

}  // namespace ptinfer::models
