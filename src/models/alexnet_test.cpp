// AlexNet's own behaviour: Init::kSkip, the input check, dropout in train() only, training.
// Parity with torchvision is zoo_parity_test.cpp.
#include "models/alexnet.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/family_test_checks.h"

namespace ptinfer::models {
namespace {

TEST(AlexNet, SkippedInitialisationBuildsTheSameModules) {
  testing::expect_skip_builds_same_modules("alexnet", {2, 3, 63, 63});
}

TEST(AlexNet, RejectsBadInputsAndOptions) {
  checks::expect_rejects_non_image_batches("alexnet");
  AlexNetOptions options;
  options.num_classes = 0;
  EXPECT_THROW(AlexNet{options}, Error);
  options.num_classes = 10;
  options.dropout = 1.5;
  EXPECT_THROW(AlexNet{options}, Error);
}

TEST(AlexNet, DropoutOnlyInTraining) {
  testing::expect_dropout_only_in_training("alexnet", {2, 3, 63, 63});
}

TEST(AlexNet, RunsInBf16) { testing::expect_runs_in_bf16("alexnet", {2, 3, 63, 63}); }

TEST(AlexNet, TrainsWithAutograd) { testing::expect_trains("alexnet", {2, 3, 63, 63}); }

}  // namespace
}  // namespace ptinfer::models
