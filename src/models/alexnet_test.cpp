// AlexNet's own behaviour: Init::kSkip, the input check, dropout in train() only, training.
// Parity with torchvision is zoo_parity_test.cpp.
#include "models/alexnet.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

TEST(AlexNet, SkippedInitialisationBuildsTheSameModules) {
  checks::expect_skip_builds_the_same_modules("alexnet", {2, 3, 63, 63});
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
  checks::expect_dropout_only_in_training("alexnet", {2, 3, 63, 63});
}

TEST(AlexNet, RunsInBf16) { checks::expect_runs_in_bfloat16("alexnet", {2, 3, 63, 63}); }

TEST(AlexNet, TrainsWithAutograd) { checks::expect_trains("alexnet", {2, 3, 63, 63}); }

}  // namespace
}  // namespace ptinfer::models
