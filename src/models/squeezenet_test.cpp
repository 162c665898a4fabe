// SqueezeNet's own behaviour: torchvision's initialisation, Init::kSkip, the input check,
// dropout in train() only, training. Parity with torchvision is zoo_parity_test.cpp.
#include "models/squeezenet.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

TEST(SqueezeNet, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = squeezenet(SqueezeNetVersion::k1_0, 1000);
  auto params = model->named_parameters();
  // The final conv: normal_(0, 0.01).
  const torch::Tensor head = params["classifier.1.weight"];  // [1000, 512, 1, 1]
  EXPECT_NEAR(head.std().item<double>(), 0.01, 0.0002);
  // Every other conv: kaiming_uniform_ (fan_in, gain sqrt(2)), bound sqrt(6 / fan_in).
  const torch::Tensor w = params["features.12.expand3x3.weight"];  // [256, 64, 3, 3]
  const double bound = std::sqrt(6.0 / (64.0 * 9.0));
  EXPECT_LE(w.abs().max().item<double>(), bound);
  EXPECT_NEAR(w.std().item<double>(), bound / std::sqrt(3.0), 0.02 * bound);
  for (const auto& p : params) {
    if (p.key().find(".bias") != std::string::npos) {
      EXPECT_TRUE(torch::all(p.value() == 0).item<bool>()) << p.key();
    }
  }
}

TEST(SqueezeNet, SkippedInitialisationBuildsTheSameModules) {
  checks::expect_skip_builds_the_same_modules("squeezenet1_0", {2, 3, 32, 32});
  checks::expect_skip_builds_the_same_modules("squeezenet1_1", {2, 3, 32, 32});
}

TEST(SqueezeNet, RejectsBadInputsAndOptions) {
  checks::expect_rejects_non_image_batches("squeezenet1_1");
  SqueezeNetOptions options;
  options.num_classes = 0;
  EXPECT_THROW(SqueezeNet{options}, Error);
}

TEST(SqueezeNet, DropoutOnlyInTraining) {
  checks::expect_dropout_only_in_training("squeezenet1_1", {2, 3, 32, 32});
}

TEST(SqueezeNet, RunsInBf16) { checks::expect_runs_in_bfloat16("squeezenet1_1", {2, 3, 32, 32}); }

TEST(SqueezeNet, TrainsWithAutograd) { checks::expect_trains("squeezenet1_0", {2, 3, 32, 32}); }

}  // namespace
}  // namespace ptinfer::models
