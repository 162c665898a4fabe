// Inception v3's own behaviour: transform_input for pretrained only, AuxLogits never run,
// torchvision's initialisation (stddev attributes included), Init::kSkip, the input check,
// dropout in train() only. Parity with torchvision (transform_input off, as its builder without
// weights) is zoo_parity_test.cpp.
#include "models/inception.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

// x * (std / 0.5) + (mean - 0.5) / 0.5 written another way: back to [0, 1] pixels, then
// normalised with mean 0.5 and std 0.5.
torch::Tensor to_half_range(const torch::Tensor& x) {
  const auto mean = torch::tensor({0.485, 0.456, 0.406}, x.options()).view({1, 3, 1, 1});
  const auto std = torch::tensor({0.229, 0.224, 0.225}, x.options()).view({1, 3, 1, 1});
  return (x * std + mean - 0.5) / 0.5;
}

TEST(InceptionV3, TransformInputOnlyForPretrained) {
  ModelConfig config;
  config.num_classes = 10;
  torch::manual_seed(0);
  auto plain = inception_v3(config);
  config.pretrained = true;
  auto pretrained = inception_v3(config);
  EXPECT_FALSE(plain->options().transform_input);
  EXPECT_TRUE(pretrained->options().transform_input);
  EXPECT_TRUE(std::dynamic_pointer_cast<InceptionV3>(create_model("inception_v3", config))
                  ->options()
                  .transform_input);
  torch::NoGradGuard no_grad;
  const auto from = plain->named_parameters();
  auto to = pretrained->named_parameters();
  for (const auto& p : from) to[p.key()].copy_(p.value());
  plain->eval();
  pretrained->eval();
  const torch::Tensor x = torch::randn({2, 3, 80, 80});
  const torch::Tensor expected = plain->forward(to_half_range(x));
  const torch::Tensor y = pretrained->forward(x);
  EXPECT_LE(((y - expected).norm() / expected.norm()).item<double>(), 1e-5);
  EXPECT_GT(((plain->forward(x) - expected).norm() / expected.norm()).item<double>(), 1e-2);
}

// AuxLogits is registered (torchvision's checkpoint keys) but not run in train() either.
TEST(InceptionV3, AuxiliaryHeadIsNeverRun) {
  checks::expect_trains("inception_v3", {2, 3, 75, 75}, {"AuxLogits."});
}

TEST(InceptionV3, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = create_model("inception_v3", 1000);
  auto params = model->named_parameters();
  // trunc_normal_(0, stddev, a=-2, b=2): 0.1 unless the layer has a stddev attribute. Only
  // AuxLogits.fc has one that torchvision's loop reads (0.001); AuxLogits.conv1's 0.01 sits on
  // the BasicConv2d, not on its Conv2d, so that conv gets 0.1 too.
  for (const char* key :
       {"Mixed_7c.branch3x3dbl_2.conv.weight", "AuxLogits.conv1.conv.weight", "fc.weight"}) {
    EXPECT_NEAR(params[key].std().item<double>(), 0.1, 0.003) << key;
    EXPECT_LE(params[key].abs().max().item<double>(), 2.0) << key;
  }
  EXPECT_NEAR(params["AuxLogits.fc.weight"].std().item<double>(), 0.001, 0.00003);
  EXPECT_TRUE(torch::all(params["Mixed_6e.branch_pool.bn.weight"] == 1).item<bool>());
  EXPECT_TRUE(torch::all(params["Mixed_6e.branch_pool.bn.bias"] == 0).item<bool>());
}

TEST(InceptionV3, SkippedInitialisationBuildsTheSameModules) {
  checks::expect_skip_builds_the_same_modules("inception_v3", {2, 3, 75, 75});
}

TEST(InceptionV3, RejectsBadInputsAndOptions) {
  checks::expect_rejects_non_image_batches("inception_v3");
  InceptionV3Options options;
  options.num_classes = 0;
  EXPECT_THROW(InceptionV3{options}, Error);
}

TEST(InceptionV3, RunsInBf16) {
  checks::expect_runs_in_bfloat16("inception_v3", {2, 3, 75, 75}, {"AuxLogits."});
}

TEST(InceptionV3, DropoutOnlyInTraining) {
  checks::expect_dropout_only_in_training("inception_v3", {2, 3, 75, 75});
}

}  // namespace
}  // namespace ptinfer::models
