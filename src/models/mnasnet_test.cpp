// MNASNet's own behaviour: input and option checks, Init::kSkip, torchvision's initialisation,
// training mode (dropout, autograd). Parity with torchvision is zoo_parity_test.cpp.
#include "models/mnasnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "common/error.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

// The extremes of the depth multiplier: 0.5 rounds channels down, 1.3 up.
const char* const kArchs[] = {"mnasnet0_5", "mnasnet1_3"};

TEST(MNASNet, RejectsInputsThatAreNotImageBatches) {
  for (const char* arch : kArchs) checks::expect_rejects_non_image_batches(arch);
}

TEST(MNASNet, SkippedInitialisationBuildsTheSameModules) {
  for (const char* arch : kArchs) checks::expect_skip_builds_the_same_modules(arch);
}

TEST(MNASNet, TrainsWithAutograd) {
  for (const char* arch : kArchs) checks::expect_trains(arch);
}

TEST(MNASNet, RunsInBfloat16WithFp32BatchNorm) {
  for (const char* arch : kArchs) checks::expect_runs_in_bfloat16(arch);
}

TEST(MNASNet, DropoutOnlyInTraining) {
  for (const char* arch : kArchs) checks::expect_dropout_only_in_training(arch);
}

// Convs kaiming_normal_(fan_out, relu), BatchNorm 1/0, Linear kaiming_uniform_(fan_out,
// sigmoid): uniform within sqrt(3 / out_features) (gain 1), zero bias.
TEST(MNASNet, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = mnasnet(1.0, 1000);
  auto params = model->named_parameters();
  const torch::Tensor conv = params["layers.14.weight"];  // [1280, 320, 1, 1]
  const double conv_std = checks::kaiming_fan_out_std(conv);
  EXPECT_NEAR(conv.std().item<double>(), conv_std, 0.02 * conv_std);
  const torch::Tensor fc = params["classifier.1.weight"];  // [1000, 1280]
  const double bound = std::sqrt(3.0 / 1000.0);
  EXPECT_LE(fc.abs().max().item<double>(), bound);
  EXPECT_GE(fc.abs().max().item<double>(), 0.999 * bound);
  EXPECT_NEAR(fc.std().item<double>(), bound / std::sqrt(3.0), 0.01 * bound);
  EXPECT_TRUE(torch::all(params["classifier.1.bias"] == 0).item<bool>());
  for (const auto& module : model->modules(/*include_self=*/false)) {
    if (const auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      EXPECT_TRUE(torch::all(bn->weight == 1).item<bool>() &&
                  torch::all(bn->bias == 0).item<bool>());
    }
  }
}

TEST(MNASNet, RejectsBadOptions) {
  for (double alpha : {0.0, -1.0}) {
    try {
      mnasnet(alpha, 10, Init::kSkip);
      ADD_FAILURE() << "alpha " << alpha << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("alpha"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(mnasnet(1.0, 0, Init::kSkip), Error);
  EXPECT_THROW(MnasInvertedResidual(16, 16, 4, 1, 3, 0.1, Init::kSkip), Error);  // kernel 4
  EXPECT_THROW(MnasInvertedResidual(16, 16, 3, 3, 3, 0.1, Init::kSkip), Error);  // stride 3
}

// The skip connection exists exactly where torchvision's apply_residual holds: with kSkip's
// zero convolutions the branch is 0 in eval, so a block with the skip returns its input.
TEST(MNASNet, InvertedResidualAddsTheInputOnlyWithoutStrideOrChannelChange) {
  MnasInvertedResidual same(24, 24, 5, 1, 3, 0.1, Init::kSkip);
  MnasInvertedResidual strided(24, 24, 5, 2, 3, 0.1, Init::kSkip);
  EXPECT_TRUE(same.apply_residual());
  EXPECT_FALSE(strided.apply_residual());
  EXPECT_FALSE(MnasInvertedResidual(24, 40, 5, 1, 3, 0.1, Init::kSkip).apply_residual());
  same.eval();
  strided.eval();
  torch::NoGradGuard no_grad;
  // Zero weights: the branch computes 0, so the block is the identity or zero.
  for (auto* block : {&same, &strided}) {
    for (auto& p : block->parameters()) p.zero_();
  }
  const torch::Tensor x = torch::randn({2, 24, 8, 8});
  EXPECT_TRUE(torch::equal(same.forward(x), x));
  EXPECT_TRUE(torch::all(strided.forward(x) == 0).item<bool>());
}

}  // namespace
}  // namespace ptinfer::models
