#include "amp/loss_scaler.h"

#include <gtest/gtest.h>

#include <limits>

#include "common/error.h"

namespace ptinfer::amp {
namespace {

// One parameter with a planted gradient.
struct OneParam {
  torch::Tensor w = torch::ones({3}, torch::requires_grad());
  torch::optim::SGD opt{std::vector<torch::Tensor>{w}, torch::optim::SGDOptions(1.0)};
  void plant(std::vector<float> g) { w.mutable_grad() = torch::tensor(g); }
};

TEST(LossScaler, ApexDefaults) {
  LossScaler s;
  EXPECT_TRUE(s.dynamic());
  EXPECT_EQ(s.scale(), 65536.0);
  LossScalerOptions o;
  EXPECT_EQ(o.growth_factor, 2.0);
  EXPECT_EQ(o.backoff_factor, 0.5);
  EXPECT_EQ(o.growth_interval, 2000);
}

TEST(LossScaler, ScalesLossAndUnscalesGradients) {
  LossScaler s(parse_loss_scale("1024"));
  EXPECT_FALSE(s.dynamic());
  EXPECT_EQ(s.scale_loss(torch::tensor(0.5f)).item<float>(), 512.0f);
  OneParam p;
  p.plant({1024.f, -2048.f, 0.f});
  EXPECT_FALSE(s.unscale_and_check({p.w}));
  EXPECT_TRUE(torch::equal(p.w.grad(), torch::tensor({1.f, -2.f, 0.f})));
}

TEST(LossScaler, GradientsFlowThroughScaledBackward) {
  LossScaler s(parse_loss_scale("8"));
  OneParam p;
  s.scale_loss((p.w * torch::tensor({1.f, 2.f, 3.f})).sum()).backward();
  EXPECT_TRUE(torch::equal(p.w.grad(), torch::tensor({8.f, 16.f, 24.f})));
  EXPECT_TRUE(s.step(p.opt));
  // SGD lr 1: w = 1 - true gradient.
  EXPECT_TRUE(torch::allclose(p.w.detach(), torch::tensor({0.f, -1.f, -2.f})));
}

TEST(LossScaler, OverflowSkipsTheStepAndBacksOff) {
  for (float bad : {std::numeric_limits<float>::infinity(), std::nanf("")}) {
    LossScaler s;
    OneParam p;
    p.plant({1.f, bad, 1.f});
    EXPECT_FALSE(s.step(p.opt));
    EXPECT_TRUE(torch::equal(p.w.detach(), torch::ones({3}))) << "weights changed";
    EXPECT_EQ(s.scale(), 32768.0);
    EXPECT_EQ(s.skipped_steps(), 1);
    EXPECT_EQ(s.good_steps_in_a_row(), 0);
  }
}

TEST(LossScaler, GrowsAfterTheWindowOfGoodSteps) {
  LossScalerOptions o;
  o.growth_interval = 3;
  LossScaler s(o);
  OneParam p;
  for (int i = 0; i < 2; ++i) {
    p.plant({1.f, 1.f, 1.f});
    EXPECT_TRUE(s.step(p.opt));
    EXPECT_EQ(s.scale(), 65536.0);
  }
  p.plant({1.f, 1.f, 1.f});
  EXPECT_TRUE(s.step(p.opt));
  EXPECT_EQ(s.scale(), 131072.0);
  EXPECT_EQ(s.good_steps_in_a_row(), 0);
  // An overflow in the middle of a window restarts it.
  s.update(false);
  s.update(false);
  s.update(true);
  EXPECT_EQ(s.scale(), 65536.0);
  s.update(false);
  s.update(false);
  EXPECT_EQ(s.scale(), 65536.0);
  s.update(false);
  EXPECT_EQ(s.scale(), 131072.0);
}

TEST(LossScaler, DefaultWindowIs2000Steps) {
  LossScaler s;
  for (int i = 0; i < 1999; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 65536.0);
  s.update(false);
  EXPECT_EQ(s.scale(), 131072.0);
}

TEST(LossScaler, ScaleStaysWithinBounds) {
  LossScalerOptions o;
  o.init_scale = 4;
  o.min_scale = 2;
  o.max_scale = 8;
  o.growth_interval = 1;
  LossScaler s(o);
  for (int i = 0; i < 5; ++i) s.update(true);
  EXPECT_EQ(s.scale(), 2.0);
  EXPECT_EQ(s.skipped_steps(), 5);
  for (int i = 0; i < 5; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 8.0);
}

TEST(LossScaler, StaticScaleSkipsOverflowButNeverChanges) {
  LossScaler s(parse_loss_scale("1024"));
  OneParam p;
  p.plant({1.f, std::numeric_limits<float>::infinity(), 1.f});
  EXPECT_FALSE(s.step(p.opt));
  EXPECT_EQ(s.scale(), 1024.0);
  for (int i = 0; i < 2500; ++i) s.update(false);
  EXPECT_EQ(s.scale(), 1024.0);
}

TEST(LossScaler, ParseErrorsNameTheFlag) {
  EXPECT_TRUE(parse_loss_scale("dynamic").dynamic);
  EXPECT_EQ(parse_loss_scale("128.5").init_scale, 128.5);
  for (const char* bad : {"", "0", "-4", "inf", "nan", "12x", "Dynamic"}) {
    try {
      parse_loss_scale(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("--loss-scale"), std::string::npos) << e.what();
    }
  }
}

TEST(LossScaler, RejectsBadKnobs) {
  auto rejects = [](LossScalerOptions o) { EXPECT_THROW(LossScaler{o}, Error); };
  LossScalerOptions o;
  o.growth_factor = 1;
  rejects(o);
  o = {};
  o.backoff_factor = 1;
  rejects(o);
  o = {};
  o.growth_interval = 0;
  rejects(o);
  o = {};
  o.min_scale = 10;
  o.max_scale = 5;
  rejects(o);
  o = {};
  o.init_scale = std::numeric_limits<double>::infinity();
  rejects(o);
}

}  // namespace
}  // namespace ptinfer::amp
