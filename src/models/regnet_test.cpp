// The RegNet family's own behaviour: settings and input checks, torchvision's initialisation,
// Init::kSkip, training mode and bf16. Parity with torchvision (widths, depths, keys, logits) is
// zoo_parity_test.cpp.
#include "models/regnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>

#include "common/error.h"
#include "models/registry.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

void expect_invalid_argument(const std::function<void()>& call, const std::string& needle) {
  try {
    call();
    FAIL() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(RegNet, RejectsInvalidSettingsAndInputs) {
  // torchvision's ValueError cases: w_0 not a multiple of 8, w_m <= 1, w_a < 0, w_0 <= 0.
  for (auto call : {+[] { RegNetBlockParams::from_init_params(16, 44, 27.89, 2.09, 8); },
                    +[] { RegNetBlockParams::from_init_params(16, 48, 27.89, 1.0, 8); },
                    +[] { RegNetBlockParams::from_init_params(16, 48, -1.0, 2.09, 8); },
                    +[] { RegNetBlockParams::from_init_params(16, 0, 27.89, 2.09, 8); }}) {
    expect_invalid_argument(call, "Invalid RegNet settings");
  }
  expect_invalid_argument([] { RegNet(regnet_block_params("regnet_x_400mf"), 0, Init::kSkip); },
                          "num_classes");
  try {
    regnet_block_params("regnet_z_1gf");
    FAIL() << "an unknown configuration was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
  auto model = create_model("regnet_x_400mf", 10);
  model->eval();
  torch::NoGradGuard no_grad;
  expect_invalid_argument([&] { model->forward(torch::zeros({1, 4, 32, 32})); }, "[1, 4, 32, 32]");
  expect_invalid_argument([&] { model->forward(torch::zeros({3, 32, 32})); }, "[3, 32, 32]");
}

// Every stage's width and group width fit: the bottleneck width is a multiple of the group width
// (what _adjust_widths_groups_compatibilty guarantees), for every configuration.
TEST(RegNet, StageWidthsAreMultiplesOfTheirGroupWidths) {
  for (const auto& arch : family_archs("regnet")) {
    const RegNetBlockParams p = regnet_block_params(arch);
    ASSERT_EQ(p.widths.size(), p.depths.size()) << arch;
    ASSERT_EQ(p.widths.size(), p.group_widths.size()) << arch;
    for (size_t i = 0; i < p.widths.size(); ++i) {
      EXPECT_EQ(p.widths[i] % p.group_widths[i], 0) << arch << " stage " << i;
      EXPECT_EQ(p.strides[i], 2) << arch;
    }
    EXPECT_EQ(p.se_ratio.has_value(), arch.rfind("regnet_y_", 0) == 0) << arch;
  }
}

TEST(RegNet, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = create_model("regnet_y_800mf", 10);
  auto params = model->named_parameters();
  // normal_(0, sqrt(2 / fan_out)), fan_out = kh * kw * out_channels (groups do not enter).
  const torch::Tensor w = params["trunk_output.block4.block4-0.f.b.0.weight"];
  const double expected_std = std::sqrt(2.0 / (9.0 * static_cast<double>(w.size(0))));
  EXPECT_NEAR(w.std().item<double>(), expected_std, 0.03 * expected_std);
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.03 * expected_std);
  EXPECT_TRUE(torch::all(params["stem.1.weight"] == 1).item<bool>());
  EXPECT_TRUE(torch::all(params["trunk_output.block1.block1-0.f.c.1.bias"] == 0).item<bool>());
  EXPECT_NEAR(params["fc.weight"].std().item<double>(), 0.01, 0.001);
  EXPECT_TRUE(torch::all(params["fc.bias"] == 0).item<bool>());
  // torchvision's loop sets only conv weights: the SE biases keep nn.Conv2d's default,
  // uniform within 1/sqrt(fan_in).
  const torch::Tensor se_bias = params["trunk_output.block2.block2-0.f.se.fc1.bias"];
  const int64_t fan_in = params["trunk_output.block2.block2-0.f.se.fc1.weight"].size(1);
  EXPECT_GT(se_bias.abs().max().item<double>(), 0.0);
  EXPECT_LE(se_bias.abs().max().item<double>(), 1.0 / std::sqrt(static_cast<double>(fan_in)));
}

// Init::kSkip builds the same modules, uninitialised (zoo_family_checks.h), on a non-square input.
TEST(RegNet, SkippedInitialisationBuildsTheSameModules) {
  for (const char* arch : {"regnet_x_400mf", "regnet_y_400mf"}) {
    checks::expect_skip_builds_the_same_modules(arch, {2, 3, 48, 40});
  }
}

// finetune's use: training mode runs autograd through every block (no in-place op in the way),
// reaches every parameter, and updates the running statistics.
TEST(RegNet, TrainsWithAutograd) {
  checks::expect_trains("regnet_y_400mf", {2, 3, 32, 32});
}

// Under O2, bf16 logits close to fp32's and a backward (zoo_family_checks.h).
TEST(RegNet, RunsInBfloat16) {
  checks::expect_runs_in_bfloat16("regnet_y_400mf", {2, 3, 32, 32});
}

}  // namespace
}  // namespace ptinfer::models
