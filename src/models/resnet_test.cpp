// The ResNet family's own behaviour: eval BatchNorm, torchvision's initialisation, Init::kSkip,
// zero_init_residual, option and input checks. Parity with torchvision is zoo_parity_test.cpp.
#include "models/resnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/model_test_fixtures.h"
#include "models/registry.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

// BatchNorm in eval mode must read the running statistics and leave them alone.
TEST(ResNet, EvalForwardLeavesRunningStatsUnchanged) {
  torch::manual_seed(0);
  auto model = resnet18(10);
  model->eval();
  auto named = model->named_buffers();
  const torch::Tensor mean_before = named["bn1.running_mean"].clone();
  const torch::Tensor count_before = named["bn1.num_batches_tracked"].clone();
  torch::NoGradGuard no_grad;
  model->forward(torch::randn({2, 3, 32, 32}) * 5 + 3);
  EXPECT_TRUE(torch::equal(named["bn1.running_mean"], mean_before));
  EXPECT_TRUE(torch::equal(named["bn1.num_batches_tracked"], count_before));

  // ... whereas training mode updates them (so the check above can fail).
  model->train();
  model->forward(torch::randn({2, 3, 32, 32}) * 5 + 3);
  EXPECT_FALSE(torch::equal(named["bn1.running_mean"], mean_before));
  EXPECT_EQ(named["bn1.num_batches_tracked"].item<int64_t>(), count_before.item<int64_t>() + 1);
}

TEST(ResNet, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = resnet50(10);
  auto params = model->named_parameters();
  // kaiming_normal_(fan_out, relu): std = sqrt(2 / (out_channels * kh * kw)).
  const torch::Tensor w = params["layer3.0.conv2.weight"];  // [256, 256, 3, 3]
  const double expected_std = std::sqrt(2.0 / (256.0 * 9.0));
  EXPECT_NEAR(w.std().item<double>(), expected_std, 0.02 * expected_std);
  EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.02 * expected_std);
  EXPECT_TRUE(torch::all(params["layer1.0.bn3.weight"] == 1).item<bool>());
  EXPECT_TRUE(torch::all(params["layer1.0.bn3.bias"] == 0).item<bool>());
  EXPECT_TRUE(torch::all(params["bn1.weight"] == 1).item<bool>());
  // fc keeps nn.Linear's default: uniform within 1/sqrt(fan_in).
  EXPECT_LE(params["fc.weight"].abs().max().item<double>(), 1.0 / std::sqrt(2048.0));
}

// Init::kSkip builds the same modules as torchvision's initialisation, uninitialised
// (zoo_family_checks.h).
TEST(ResNet, SkippedInitialisationBuildsTheSameModules) {
  for (const char* arch : {"resnet18", "resnext50_32x4d"}) {
    checks::expect_skip_builds_the_same_modules(arch);
  }
}

TEST(ResNet, ZeroInitResidualZeroesTheLastBnOfEachBlock) {
  auto basic = resnet18(10, /*zero_init_residual=*/true);
  auto bottleneck = resnet50(10, /*zero_init_residual=*/true);
  int zeroed = 0;
  for (const auto& p : basic->named_parameters()) {
    if (p.key().find(".weight") == std::string::npos) continue;  // BN biases are 0 anyway
    const bool last_bn = p.key().find(".bn2.weight") != std::string::npos;
    if (last_bn) ++zeroed;
    EXPECT_EQ(last_bn, torch::all(p.value() == 0).item<bool>()) << p.key();
  }
  EXPECT_EQ(zeroed, 8);
  zeroed = 0;
  for (const auto& p : bottleneck->named_parameters()) {
    if (p.key().find(".bn3.weight") != std::string::npos) {
      ++zeroed;
      EXPECT_TRUE(torch::all(p.value() == 0).item<bool>()) << p.key();
    } else if (p.key().find("bn") != std::string::npos &&
               p.key().find(".weight") != std::string::npos) {
      EXPECT_TRUE(torch::all(p.value() == 1).item<bool>()) << p.key();
    }
  }
  EXPECT_EQ(zeroed, 16);
  // Default off, as torchvision's flag.
  auto plain = resnet18(10);
  EXPECT_TRUE(torch::all(plain->named_parameters()["layer1.0.bn2.weight"] == 1).item<bool>());
}

TEST(ResNet, RejectsBadOptionsAndInputs) {
  ResNetOptions basic_grouped;
  basic_grouped.block = BlockKind::kBasic;
  basic_grouped.layers = {2, 2, 2, 2};
  basic_grouped.groups = 32;
  EXPECT_THROW(ResNet{basic_grouped}, Error);
  ResNetOptions empty_layer;
  empty_layer.layers = {3, 0, 6, 3};
  EXPECT_THROW(ResNet{empty_layer}, Error);
  ResNetOptions no_classes;
  no_classes.num_classes = 0;
  EXPECT_THROW(ResNet{no_classes}, Error);

  auto model = resnet18(10);
  model->eval();
  torch::NoGradGuard no_grad;
  try {
    model->forward(torch::zeros({1, 1, 32, 32}));
    FAIL() << "a 1-channel input was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("[1, 1, 32, 32]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(model->forward(torch::zeros({3, 32, 32})), Error);
}

// Running the top-level children one by one is ResNet::forward; any other module is refused.
TEST(ResNet, TopLevelChildrenInOrderAreTheForward) {
  torch::manual_seed(0);
  auto model = resnet18(10);
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 3, 40, 40});
  torch::Tensor y = x;
  for (const auto& item : model->named_children()) y = forward_top_level_child(*item.value(), y);
  EXPECT_TRUE(torch::equal(y, model->forward(x)));
  torch::nn::Dropout dropout;
  try {
    forward_top_level_child(*dropout, x);
    FAIL() << "a Dropout was run";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
  }
}

}  // namespace
}  // namespace ptinfer::models
