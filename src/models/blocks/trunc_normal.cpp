#include "models/blocks/trunc_normal.h"

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "common/error.h"

namespace ptinfer::models {
namespace {

// The standard normal cumulative distribution function.
double norm_cdf(double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; }

}  // namespace

void trunc_normal_(torch::Tensor tensor, double mean, double std, double a, double b) {
  if (!(std > 0.0) || !(a < b)) {
    throw Error(ErrorKind::kInvalidArgument,
                "trunc_normal_: needs std > 0 and a < b, got std=" + std::to_string(std) +
                    " a=" + std::to_string(a) + " b=" + std::to_string(b));
  }
  torch::NoGradGuard no_grad;
  const double lower = norm_cdf((a - mean) / std);
  const double upper = norm_cdf((b - mean) / std);
  // Uniform in [2l - 1, 2u - 1], then the inverse of the standard normal's cdf via erfinv.
  tensor.uniform_(2.0 * lower - 1.0, 2.0 * upper - 1.0);
  tensor.erfinv_();
  tensor.mul_(std * std::sqrt(2.0));
  tensor.add_(mean);
  // erfinv at the interval's ends can overshoot by rounding: keep every value inside [a, b].
  tensor.clamp_(a, b);
}

}  // namespace ptinfer::models
