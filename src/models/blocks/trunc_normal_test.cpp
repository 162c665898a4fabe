// trunc_normal_ against the truncated normal distribution's own moments.
#include "models/blocks/trunc_normal.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "common/error.h"

namespace ptinfer::models {
namespace {

double pdf(double x) { return std::exp(-x * x / 2.0) / std::sqrt(2.0 * M_PI); }
double cdf(double x) { return (1.0 + std::erf(x / std::sqrt(2.0))) / 2.0; }

// Bounds that cut the distribution hard (a = mean - 0.5 std, b = mean + 1.5 std): every draw
// lies inside, with the mean and standard deviation of the truncated normal.
TEST(TruncNormal, DrawsTheTruncatedDistribution) {
  torch::manual_seed(0);
  const double mean = 0.3, std = 2.0;
  const double a = mean - 0.5 * std, b = mean + 1.5 * std;
  torch::Tensor t = torch::empty({200000});
  trunc_normal_(t, mean, std, a, b);
  EXPECT_GE(t.min().item<double>(), a);
  EXPECT_LE(t.max().item<double>(), b);
  const double alpha = (a - mean) / std, beta = (b - mean) / std;
  const double z = cdf(beta) - cdf(alpha);
  const double shift = (pdf(alpha) - pdf(beta)) / z;
  const double expected_mean = mean + std * shift;
  const double expected_var =
      std * std * (1.0 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - shift * shift);
  EXPECT_NEAR(t.mean().item<double>(), expected_mean, 0.01);
  EXPECT_NEAR(t.var().item<double>(), expected_var, 0.01);
}

TEST(TruncNormal, RejectsBadArguments) {
  torch::Tensor t = torch::empty({4});
  EXPECT_THROW(trunc_normal_(t, 0.0, 0.0, -2.0, 2.0), Error);
  EXPECT_THROW(trunc_normal_(t, 0.0, 1.0, 2.0, -2.0), Error);
}

}  // namespace
}  // namespace ptinfer::models
