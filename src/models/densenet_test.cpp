// DenseNet's own behaviour: torchvision's initialisation, Init::kSkip, the input check,
// drop_rate in train() only, training through the concatenations. Parity with torchvision is
// zoo_parity_test.cpp.
#include "models/densenet.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

TEST(DenseNet, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = densenet(32, {6, 12, 24, 16}, 64, 1000);
  auto params = model->named_parameters();
  // kaiming_normal_ with its defaults (fan_in, gain sqrt(2)): std = sqrt(2 / (in * kh * kw)).
  const torch::Tensor w = params["features.denseblock3.denselayer1.conv2.weight"];  // [32,128,3,3]
  ASSERT_EQ(w.sizes().vec(), (std::vector<int64_t>{32, 128, 3, 3}));
  const double expected_std = std::sqrt(2.0 / (128.0 * 9.0));
  EXPECT_NEAR(w.std().item<double>(), expected_std, 0.03 * expected_std);
  EXPECT_TRUE(torch::all(params["features.norm5.weight"] == 1).item<bool>());
  EXPECT_TRUE(torch::all(params["features.transition2.norm.bias"] == 0).item<bool>());
  EXPECT_TRUE(torch::all(params["classifier.bias"] == 0).item<bool>());
  // The classifier's weight keeps nn.Linear's default: uniform within 1/sqrt(fan_in).
  EXPECT_LE(params["classifier.weight"].abs().max().item<double>(), 1.0 / std::sqrt(1024.0));
}

// Every densenet's row renames torchvision < 0.3's "norm.1"-style keys to the modules' names.
TEST(DenseNet, LegacyKeysAreRenamedToTheModulesNames) {
  for (const auto& arch : family_archs("densenet")) {
    const auto params = create_model(arch, 10, Init::kSkip)->named_parameters();
    const std::string renamed = current_key(arch, "features.denseblock2.denselayer3.conv.2.weight");
    EXPECT_EQ(renamed, "features.denseblock2.denselayer3.conv2.weight") << arch;
    EXPECT_NE(params.find(renamed), nullptr) << arch;
  }
}

TEST(DenseNet, SkippedInitialisationBuildsTheSameModules) {
  checks::expect_skip_builds_the_same_modules("densenet121", {2, 3, 32, 32});
}

TEST(DenseNet, RejectsBadInputsAndOptions) {
  checks::expect_rejects_non_image_batches("densenet121");
  DenseNetOptions options;
  options.block_config = {6, 0, 24, 16};
  EXPECT_THROW(DenseNet{options}, Error);
  options.block_config = {6, 12, 24, 16};
  options.drop_rate = -0.1;
  EXPECT_THROW(DenseNet{options}, Error);
}

// torchvision's densenets have drop_rate 0 (no dropout at all); a positive one acts in train()
// only.
TEST(DenseNet, DropRateOnlyInTraining) {
  DenseNetOptions options;
  options.growth_rate = 8;
  options.block_config = {2, 2, 2, 2};
  options.num_init_features = 16;
  options.drop_rate = 0.5;
  options.num_classes = 10;
  torch::manual_seed(0);
  DenseNet model(options);
  checks::expect_dropout_only_in_training(
      model, [&](torch::Tensor x) { return model.forward(x); }, {2, 3, 32, 32}, "densenet");
}

TEST(DenseNet, RunsInBf16) { checks::expect_runs_in_bfloat16("densenet121", {2, 3, 32, 32}); }

TEST(DenseNet, TrainsWithAutograd) { checks::expect_trains("densenet121", {2, 3, 32, 32}); }

}  // namespace
}  // namespace ptinfer::models
