// The ConvNeXt family's own behaviour: stochastic depth in train() only and its linear schedule,
// torchvision's initialisation, Init::kSkip, training-mode backward, O2's bf16, option and input
// checks. Parity with torchvision is zoo_parity_test.cpp.
#include "models/convnext.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/registry.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

// Two small stages (8 and 16 channels), built in a blink.
ConvNeXtOptions small_options(Init init = Init::kTorchvision) {
  ConvNeXtOptions o;
  o.block_setting = {{8, 16, 1}, {16, std::nullopt, 2}};
  o.stochastic_depth_prob = 0.5;
  o.num_classes = 5;
  o.init = init;
  return o;
}

TEST(ConvNeXt, StochasticDepthDropsTheBranchOnlyInTraining) {
  torch::manual_seed(0);
  CNBlock block(8, /*layer_scale=*/0.5, /*stochastic_depth_prob=*/1.0, Init::kTorchvision);
  const torch::Tensor x = torch::randn({3, 8, 5, 5});
  block->train();
  EXPECT_TRUE(torch::equal(block(x), x));  // p = 1: every row's branch dropped
  block->eval();
  const torch::Tensor y = block(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_FALSE(torch::allclose(y, x));
}

TEST(ConvNeXt, StochasticDepthGrowsLinearlyOverTheBlocks) {
  auto model = convnext_tiny(10, Init::kSkip);
  std::vector<double> p;
  for (const auto& module : model->modules(/*include_self=*/false)) {
    if (const auto* block = module->as<CNBlockImpl>()) p.push_back(block->stochastic_depth()->p());
  }
  ASSERT_EQ(p.size(), 18u);  // 3 + 3 + 9 + 3
  EXPECT_EQ(p.front(), 0.0);
  EXPECT_DOUBLE_EQ(p.back(), 0.1);
  for (size_t i = 1; i < p.size(); ++i) {
    EXPECT_NEAR(p[i] - p[i - 1], 0.1 / 17, 1e-12) << "block " << i;
  }
}

TEST(ConvNeXt, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = convnext_tiny(10);
  auto params = model->named_parameters();
  for (const char* key : {"features.5.3.block.3.weight", "features.0.0.weight",
                          "features.4.1.weight", "classifier.2.weight"}) {
    const torch::Tensor w = params[key];
    EXPECT_NEAR(w.std().item<double>(), 0.02, 0.001) << key;
    EXPECT_LE(w.abs().max().item<double>(), 2.0) << key;
  }
  for (const char* key : {"features.5.3.block.0.bias", "features.5.3.block.3.bias",
                          "features.0.0.bias", "classifier.2.bias"}) {
    EXPECT_TRUE(torch::all(params[key] == 0).item<bool>()) << key;
  }
  EXPECT_TRUE(torch::all(params["features.1.0.layer_scale"] == 1e-6f).item<bool>());
  EXPECT_EQ(params["features.1.0.layer_scale"].sizes().vec(), (std::vector<int64_t>{96, 1, 1}));
  EXPECT_TRUE(torch::all(params["features.1.0.block.2.weight"] == 1).item<bool>());
  EXPECT_TRUE(torch::all(params["classifier.0.weight"] == 1).item<bool>());
}

// Init::kSkip builds the same modules, uninitialised (zoo_family_checks.h).
TEST(ConvNeXt, SkippedInitialisationBuildsTheSameModules) {
  checks::expect_skip_builds_the_same_modules("convnext_tiny");
}

TEST(ConvNeXt, RejectsInputsThatAreNotImageBatches) {
  checks::expect_rejects_non_image_batches("convnext_tiny");
}

TEST(ConvNeXt, TrainsWithAutograd) { checks::expect_trains("convnext_tiny"); }

TEST(ConvNeXt, RunsInBfloat16) { checks::expect_runs_in_bfloat16("convnext_tiny"); }

// Stochastic depth is ConvNeXt's only randomness in training.
TEST(ConvNeXt, StochasticDepthOnlyInTraining) {
  checks::expect_dropout_only_in_training("convnext_tiny");
}

TEST(ConvNeXt, RejectsBadOptionsAndTooSmallInputs) {
  ConvNeXtOptions empty = small_options();
  empty.block_setting.clear();
  EXPECT_THROW(ConvNeXt{empty}, Error);
  ConvNeXtOptions no_classes = small_options();
  no_classes.num_classes = 0;
  EXPECT_THROW(ConvNeXt{no_classes}, Error);
  ConvNeXtOptions bad_depth = small_options();
  bad_depth.stochastic_depth_prob = 1.5;
  EXPECT_THROW(ConvNeXt{bad_depth}, Error);

  auto model = convnext_tiny(10, Init::kSkip);  // the checks come before any arithmetic
  EXPECT_EQ(model->min_input_size(), 32);
  model->eval();
  torch::NoGradGuard no_grad;
  for (const auto& shape : std::vector<std::vector<int64_t>>{{1, 3, 31, 64}, {2, 3, 64, 16}}) {
    try {
      model->forward(torch::zeros(shape));
      FAIL() << checks::shape_string(shape) << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      const std::string msg = e.what();
      EXPECT_NE(msg.find(checks::shape_string(shape)), std::string::npos) << msg;
      EXPECT_NE(msg.find("at least 32x32"), std::string::npos) << msg;
    }
  }
  // The smallest input runs (a model that was initialised: kSkip's must be loaded first).
  ConvNeXt small(small_options());
  EXPECT_EQ(small.min_input_size(), 8);
  small.eval();
  EXPECT_EQ(small.forward(torch::zeros({1, 3, 8, 9})).sizes().vec(), (std::vector<int64_t>{1, 5}));
  EXPECT_THROW(small.forward(torch::zeros({1, 3, 7, 9})), Error);
}

}  // namespace
}  // namespace ptinfer::models
