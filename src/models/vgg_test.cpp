// VGG's own behaviour: its configuration table, torchvision's initialisation, Init::kSkip, the
// input check, dropout in train() only. Parity with torchvision is zoo_parity_test.cpp.
#include "models/vgg.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

// The convs of each configuration are 8, 10, 13 and 16 layers (vgg11/13/16/19 with the three
// linears), and each has five max pools.
TEST(Vgg, ConfigurationsAreTorchvisions) {
  const std::pair<char, int> expected[] = {{'A', 8}, {'B', 10}, {'D', 13}, {'E', 16}};
  for (const auto& [name, convs] : expected) {
    const auto& config = vgg_config(name);
    EXPECT_EQ(std::count(config.begin(), config.end(), kVggMaxPool), 5) << name;
    EXPECT_EQ(static_cast<int>(config.size()) - 5, convs) << name;
  }
  EXPECT_THROW(vgg_config('C'), Error);
  // With BatchNorm every conv is followed by a BatchNorm2d, before its ReLU.
  auto plain = vgg_make_layers(vgg_config('A'), false, Init::kSkip);
  auto with_bn = vgg_make_layers(vgg_config('A'), true, Init::kSkip);
  EXPECT_EQ(plain->size(), 5 + 8 * 2);
  EXPECT_EQ(with_bn->size(), 5 + 8 * 3);
  EXPECT_NE(with_bn[1]->as<torch::nn::BatchNorm2d>(), nullptr);
}

TEST(Vgg, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = vgg('A', /*batch_norm=*/true, 1000);
  auto params = model->named_parameters();
  // kaiming_normal_(fan_out, relu): std = sqrt(2 / (out_channels * 3 * 3)).
  const torch::Tensor w = params["features.25.weight"];  // the last conv, [512, 512, 3, 3]
  ASSERT_EQ(w.sizes().vec(), (std::vector<int64_t>{512, 512, 3, 3}));
  const double conv_std = std::sqrt(2.0 / (512.0 * 9.0));
  EXPECT_NEAR(w.std().item<double>(), conv_std, 0.02 * conv_std);
  EXPECT_TRUE(torch::all(params["features.25.bias"] == 0).item<bool>());
  EXPECT_TRUE(torch::all(params["features.26.weight"] == 1).item<bool>());
  EXPECT_TRUE(torch::all(params["features.26.bias"] == 0).item<bool>());
  for (const char* key : {"classifier.0", "classifier.3", "classifier.6"}) {
    const std::string k = key;
    EXPECT_NEAR(params[k + ".weight"].std().item<double>(), 0.01, 0.0005) << k;
    EXPECT_NEAR(params[k + ".weight"].mean().item<double>(), 0.0, 0.0005) << k;
    EXPECT_TRUE(torch::all(params[k + ".bias"] == 0).item<bool>()) << k;
  }
}

TEST(Vgg, SkippedInitialisationBuildsTheSameModules) {
  // With BatchNorm: the configurations share everything else.
  checks::expect_skip_builds_the_same_modules("vgg11_bn", {2, 3, 32, 32});
}

TEST(Vgg, RejectsBadInputsAndOptions) {
  checks::expect_rejects_non_image_batches("vgg11");
  VggOptions options;
  options.config = vgg_config('A');
  options.num_classes = 0;
  EXPECT_THROW(Vgg{options}, Error);
  options.num_classes = 10;
  options.config = {64, kVggMaxPool, 256};  // classifier.0 takes 512 * 7 * 7 features
  EXPECT_THROW(Vgg{options}, Error);
}

TEST(Vgg, RunsInBf16) { checks::expect_runs_in_bfloat16("vgg11_bn", {2, 3, 32, 32}); }

TEST(Vgg, DropoutOnlyInTraining) {
  checks::expect_dropout_only_in_training("vgg11_bn", {2, 3, 32, 32});
}

}  // namespace
}  // namespace ptinfer::models
