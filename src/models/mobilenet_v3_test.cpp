// MobileNetV3's own behaviour: input, option and config checks, Init::kSkip, torchvision's
// initialisation, training mode (dropout, autograd). Parity with torchvision is
// zoo_parity_test.cpp.
#include "models/mobilenet_v3.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

const char* const kArchs[] = {"mobilenet_v3_large", "mobilenet_v3_small"};

TEST(MobileNetV3, RejectsInputsThatAreNotImageBatches) {
  for (const char* arch : kArchs) checks::expect_rejects_non_image_batches(arch);
}

TEST(MobileNetV3, SkippedInitialisationBuildsTheSameModules) {
  for (const char* arch : kArchs) checks::expect_skip_builds_the_same_modules(arch);
}

TEST(MobileNetV3, TrainsWithAutograd) {
  for (const char* arch : kArchs) checks::expect_trains(arch);
}

TEST(MobileNetV3, RunsInBfloat16WithFp32BatchNorm) {
  for (const char* arch : kArchs) checks::expect_runs_in_bfloat16(arch);
}

TEST(MobileNetV3, DropoutOnlyInTraining) {
  for (const char* arch : kArchs) checks::expect_dropout_only_in_training(arch);
}

// Convs (the squeeze-excitation's 1x1 convs too) kaiming_normal_(fan_out) with zero bias,
// BatchNorm 1/0, both Linears normal_(0, 0.01) with zero bias.
TEST(MobileNetV3, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = mobilenet_v3_large(1000);
  auto params = model->named_parameters();
  const torch::Tensor conv = params["features.16.0.weight"];  // [960, 160, 1, 1]
  const double conv_std = checks::kaiming_fan_out_std(conv);
  EXPECT_NEAR(conv.std().item<double>(), conv_std, 0.02 * conv_std);
  EXPECT_TRUE(torch::all(params["features.4.block.2.fc1.bias"] == 0).item<bool>());
  EXPECT_TRUE(torch::all(params["features.4.block.2.fc2.bias"] == 0).item<bool>());
  for (const char* fc : {"classifier.0", "classifier.3"}) {
    const torch::Tensor w = params[std::string(fc) + ".weight"];  // [1280, 960], [1000, 1280]
    EXPECT_NEAR(w.std().item<double>(), 0.01, 0.0002) << fc;
    EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.0002) << fc;
    EXPECT_TRUE(torch::all(params[std::string(fc) + ".bias"] == 0).item<bool>()) << fc;
  }
  for (const auto& module : model->modules(/*include_self=*/false)) {
    if (const auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      EXPECT_TRUE(torch::all(bn->weight == 1).item<bool>() &&
                  torch::all(bn->bias == 0).item<bool>());
    }
  }
}

TEST(MobileNetV3, RejectsBadOptionsAndConfigs) {
  EXPECT_THROW(MobileNetV3BlockConfig(16, 3, 16, 16, false, "XX", 1, 1, 1.0), Error);
  EXPECT_THROW(MobileNetV3InvertedResidual(
                   MobileNetV3BlockConfig(16, 3, 16, 16, false, "RE", 3, 1, 1.0), Init::kSkip),
               Error);
  try {
    mobilenet_v3_options("mobilenet_v3_medium", 10, Init::kSkip);
    FAIL() << "an unknown arch was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("mobilenet_v3_medium"), std::string::npos) << e.what();
  }
  MobileNetV3Options empty;
  EXPECT_THROW(MobileNetV3{empty}, Error);
  MobileNetV3Options no_classes = mobilenet_v3_options("mobilenet_v3_small", 10, Init::kSkip);
  no_classes.num_classes = 0;
  EXPECT_THROW(MobileNetV3{no_classes}, Error);
}

// The skip connection exists exactly where torchvision's use_res_connect holds: with kSkip's
// zero convolutions the branch is 0 in eval, so a block with the skip returns its input.
TEST(MobileNetV3, InvertedResidualAddsTheInputOnlyWithoutStrideOrChannelChange) {
  MobileNetV3InvertedResidual same(MobileNetV3BlockConfig(40, 5, 120, 40, true, "HS", 1, 1, 1.0),
                                   Init::kSkip);
  MobileNetV3InvertedResidual strided(MobileNetV3BlockConfig(40, 5, 120, 40, true, "HS", 2, 1, 1.0),
                                      Init::kSkip);
  EXPECT_TRUE(same.use_res_connect());
  EXPECT_FALSE(strided.use_res_connect());
  same.eval();
  strided.eval();
  torch::NoGradGuard no_grad;
  // Zero weights: the branch computes 0, so the block is the identity or zero.
  for (auto* block : {&same, &strided}) {
    for (auto& p : block->parameters()) p.zero_();
  }
  const torch::Tensor x = torch::randn({2, 40, 8, 8});
  EXPECT_TRUE(torch::equal(same.forward(x), x));
  EXPECT_TRUE(torch::all(strided.forward(x) == 0).item<bool>());
}

}  // namespace
}  // namespace ptinfer::models
