#include "train/master_weights.h"

#include <gtest/gtest.h>

namespace ptinfer::train {
namespace {

TEST(MasterWeightsTest, LowPrecisionParametersGetFp32Masters) {
  torch::Tensor low = torch::full({4}, 1.0, torch::kBFloat16).set_requires_grad(true);
  torch::Tensor fp32 = torch::full({2}, 3.0).set_requires_grad(true);
  MasterWeights m({low, fp32});
  ASSERT_EQ(m.masters().size(), 2u);
  EXPECT_EQ(m.master(0).scalar_type(), torch::kFloat);
  EXPECT_FALSE(m.master(0).is_same(low));
  EXPECT_TRUE(m.master(1).is_same(fp32));

  (low.to(torch::kFloat).sum() * 3 + fp32.sum()).backward();
  m.grads_to_masters();
  ASSERT_TRUE(m.master(0).grad().defined());
  EXPECT_EQ(m.master(0).grad().scalar_type(), torch::kFloat);
  EXPECT_TRUE(torch::equal(m.master(0).grad(), torch::full({4}, 3.0)));

  // An update below bf16's resolution at 1.0 (2^-8) survives in the master only.
  {
    torch::NoGradGuard g;
    m.master(0).add_(1e-3);
  }
  m.masters_to_params();
  EXPECT_FLOAT_EQ(m.master(0)[0].item<float>(), 1.001f);
  EXPECT_EQ(low[0].item<float>(), 1.0f);
  {
    torch::NoGradGuard g;
    m.master(0).add_(0.01);
  }
  m.masters_to_params();
  EXPECT_NE(low[0].item<float>(), 1.0f);

  m.clear_grads();
  EXPECT_FALSE(low.grad().defined());
  EXPECT_FALSE(m.master(0).grad().defined());
  EXPECT_FALSE(fp32.grad().defined());
}

// LibTorch's SGD with two groups follows PyTorch's documented update (torch.optim.SGD, 1.13):
//   d = g + wd * p;  buf = d (first step) else momentum * buf + d;  p -= lr * buf
TEST(SgdTest, GroupsFollowPyTorchsUpdate) {
  torch::manual_seed(0);
  torch::Tensor a = torch::randn({5}).set_requires_grad(true);
  torch::Tensor b = torch::randn({3}).set_requires_grad(true);
  const double lr = 0.05, momentum = 0.9, wd = 0.01;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{a},
                      std::make_unique<torch::optim::SGDOptions>(
                          torch::optim::SGDOptions(lr).momentum(momentum).weight_decay(0)));
  groups.emplace_back(std::vector<torch::Tensor>{b},
                      std::make_unique<torch::optim::SGDOptions>(
                          torch::optim::SGDOptions(lr).momentum(momentum).weight_decay(wd)));
  torch::optim::SGD sgd(groups, torch::optim::SGDOptions(lr));
  torch::Tensor ea = a.detach().clone(), eb = b.detach().clone();
  torch::Tensor buf_a, buf_b;
  for (int step = 0; step < 3; ++step) {
    torch::Tensor ga = torch::randn({5}), gb = torch::randn({3});
    a.mutable_grad() = ga.clone();
    b.mutable_grad() = gb.clone();
    sgd.step();
    torch::Tensor da = ga, db = gb + wd * eb;
    buf_a = step == 0 ? da : momentum * buf_a + da;
    buf_b = step == 0 ? db : momentum * buf_b + db;
    ea = ea - lr * buf_a;
    eb = eb - lr * buf_b;
    EXPECT_TRUE(torch::allclose(a.detach(), ea, 1e-6, 1e-7)) << "step " << step;
    EXPECT_TRUE(torch::allclose(b.detach(), eb, 1e-6, 1e-7)) << "step " << step;
  }
}

}  // namespace
}  // namespace ptinfer::train
