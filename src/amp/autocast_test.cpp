// Which dtype each op runs in under O1 (the ops ResNet and a classifier's head use).
#include "amp/autocast.h"

#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

namespace ptinfer::amp {
namespace {

const Policy kO1{OptLevel::kO1, LowDtype::kBFloat16};
const torch::Device kCpu("cpu");

TEST(Autocast, O1RunsConvLinearMatmulInBf16) {
  torch::manual_seed(0);
  torch::Tensor x = torch::randn({2, 3, 8, 8});
  torch::Tensor w = torch::randn({4, 3, 3, 3});
  AutocastGuard guard(kO1, kCpu);
  ASSERT_TRUE(guard.active());
  EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);
  EXPECT_EQ(torch::nn::functional::linear(torch::randn({2, 5}), torch::randn({3, 5})).scalar_type(),
            torch::kBFloat16);
  EXPECT_EQ(torch::matmul(torch::randn({2, 5}), torch::randn({5, 3})).scalar_type(),
            torch::kBFloat16);
}

TEST(Autocast, O1RunsNormsSoftmaxAndReductionsInFp32) {
  torch::manual_seed(0);
  torch::Tensor low = torch::randn({2, 4, 6, 6}).to(torch::kBFloat16);
  AutocastGuard guard(kO1, kCpu);
  torch::Tensor bn = torch::batch_norm(low, torch::ones({4}), torch::zeros({4}), torch::zeros({4}),
                                       torch::ones({4}), false, 0.1, 1e-5, false);
  EXPECT_EQ(bn.scalar_type(), torch::kFloat32);
  EXPECT_EQ(torch::softmax(low, 1).scalar_type(), torch::kFloat32);
  EXPECT_EQ(torch::log_softmax(low, 1).scalar_type(), torch::kFloat32);
  EXPECT_EQ(torch::layer_norm(low, {6}).scalar_type(), torch::kFloat32);
  EXPECT_EQ(torch::group_norm(low, 2).scalar_type(), torch::kFloat32);
  EXPECT_EQ(low.sum().scalar_type(), torch::kFloat32);
  EXPECT_EQ(low.sum(1).scalar_type(), torch::kFloat32);
  EXPECT_EQ(low.mean().scalar_type(), torch::kFloat32);
  EXPECT_EQ(low.mean({2, 3}).scalar_type(), torch::kFloat32);
  // The modules route through the same ops.
  torch::nn::BatchNorm2d module(4);
  module->eval();
  EXPECT_EQ(module(low).scalar_type(), torch::kFloat32);
}

TEST(Autocast, Fp32ResultsEqualTheFp32OpOnTheUpcastInput) {
  torch::manual_seed(1);
  torch::Tensor low = torch::randn({3, 10}).to(torch::kBFloat16);
  torch::Tensor expected = torch::softmax(low.to(torch::kFloat), 1);
  AutocastGuard guard(kO1, kCpu);
  EXPECT_TRUE(torch::equal(torch::softmax(low, 1), expected));
}

TEST(Autocast, OutsideTheGuardOpsKeepTheirInputDtype) {
  torch::Tensor low = torch::randn({2, 4}).to(torch::kBFloat16);
  { AutocastGuard guard(kO1, kCpu); }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_EQ(torch::softmax(low, 1).scalar_type(), torch::kBFloat16);
  EXPECT_EQ(torch::conv2d(torch::randn({1, 1, 3, 3}), torch::randn({1, 1, 1, 1})).scalar_type(),
            torch::kFloat32);
}

TEST(Autocast, OtherLevelsDoNotEnableAutocast) {
  for (OptLevel level : {OptLevel::kO0, OptLevel::kO2, OptLevel::kO3}) {
    AutocastGuard guard({level, LowDtype::kBFloat16}, kCpu);
    EXPECT_FALSE(guard.active());
    EXPECT_FALSE(at::autocast::is_cpu_enabled());
  }
}

TEST(Autocast, GuardRestoresPreviousStateAndDtype) {
  at::autocast::set_autocast_cpu_dtype(torch::kBFloat16);
  {
    AutocastGuard outer(kO1, kCpu);
    {
      AutocastGuard inner(kO1, kCpu);
      EXPECT_TRUE(at::autocast::is_cpu_enabled());
    }
    EXPECT_TRUE(at::autocast::is_cpu_enabled());
  }
  EXPECT_FALSE(at::autocast::is_cpu_enabled());
  EXPECT_EQ(at::autocast::get_autocast_cpu_dtype(), torch::kBFloat16);
}

}  // namespace
}  // namespace ptinfer::amp
