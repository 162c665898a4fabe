// trunc_normal_ draws torch.nn.init.trunc_normal_'s distribution: a normal cut at absolute bounds.
#include "models/blocks/trunc_normal.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "common/error.h"

namespace ptinfer::models {
namespace {

// The variance of a standard normal truncated to [-c, c]: 1 - 2 c phi(c) / (Phi(c) - Phi(-c)).
double truncated_variance(double c) {
  const double pdf = std::exp(-c * c / 2) / std::sqrt(2 * M_PI);
  const double mass = std::erf(c / std::sqrt(2.0));
  return 1.0 - 2.0 * c * pdf / mass;
}

TEST(TruncNormal, DrawsTheTruncatedNormal) {
  torch::manual_seed(0);
  // Bounds at one standard deviation: truncation shows in the spread.
  torch::Tensor t = torch::empty({400000});
  trunc_normal_(t, 0.5, 2.0, -1.5, 2.5);
  EXPECT_GE(t.min().item<double>(), -1.5);
  EXPECT_LE(t.max().item<double>(), 2.5);
  EXPECT_NEAR(t.mean().item<double>(), 0.5, 0.01);
  EXPECT_NEAR(t.std().item<double>(), 2.0 * std::sqrt(truncated_variance(1.0)), 0.01);
  // PyTorch's default bounds (+-2, absolute) hardly truncate std 0.02: a plain normal.
  torch::Tensor w = torch::empty({100000});
  trunc_normal_(w, 0.0, 0.02);
  EXPECT_NEAR(w.std().item<double>(), 0.02, 0.0004);
  EXPECT_THROW(trunc_normal_(w, 0.0, 0.0), Error);
  EXPECT_THROW(trunc_normal_(w, 0.0, 1.0, 1.0, -1.0), Error);
}

}  // namespace
}  // namespace ptinfer::models
