// MobileNetV2's own behaviour: input and option checks, Init::kSkip, torchvision's
// initialisation, training mode (dropout, autograd). Parity with torchvision is
// zoo_parity_test.cpp.
#include "models/mobilenet_v2.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

TEST(MobileNetV2, RejectsInputsThatAreNotImageBatches) {
  checks::expect_rejects_non_image_batches("mobilenet_v2");
}

TEST(MobileNetV2, SkippedInitialisationBuildsTheSameModules) {
  checks::expect_skip_builds_the_same_modules("mobilenet_v2");
}

TEST(MobileNetV2, TrainsWithAutograd) { checks::expect_trains("mobilenet_v2"); }

// With a training step too: ReLU6's backward (hardtanh_backward) has no bf16 CPU kernel in
// LibTorch 1.13, so the Activation block clamps bf16 in fp32 when autograd records it.
TEST(MobileNetV2, RunsInBfloat16WithFp32BatchNorm) {
  checks::expect_runs_in_bfloat16("mobilenet_v2");
}

TEST(MobileNetV2, DropoutOnlyInTraining) {
  checks::expect_dropout_only_in_training("mobilenet_v2");
}

// Convs kaiming_normal_(fan_out), BatchNorm 1/0, Linear normal_(0, 0.01) with zero bias.
TEST(MobileNetV2, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = mobilenet_v2(1000);
  auto params = model->named_parameters();
  const torch::Tensor conv = params["features.18.0.weight"];  // [1280, 320, 1, 1]
  const double conv_std = checks::kaiming_fan_out_std(conv);
  EXPECT_NEAR(conv.std().item<double>(), conv_std, 0.02 * conv_std);
  const torch::Tensor fc = params["classifier.1.weight"];  // [1000, 1280]
  EXPECT_NEAR(fc.std().item<double>(), 0.01, 0.0002);
  EXPECT_NEAR(fc.mean().item<double>(), 0.0, 0.0002);
  EXPECT_TRUE(torch::all(params["classifier.1.bias"] == 0).item<bool>());
  int norms = 0;
  for (const auto& module : model->modules(/*include_self=*/false)) {
    if (const auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      ++norms;
      EXPECT_TRUE(torch::all(bn->weight == 1).item<bool>() &&
                  torch::all(bn->bias == 0).item<bool>());
    }
  }
  EXPECT_GT(norms, 0);
}

TEST(MobileNetV2, RejectsBadOptions) {
  auto expect_invalid = [](const MobileNetV2Options& options) {
    try {
      MobileNetV2 model(options);
      ADD_FAILURE() << "options accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    }
  };
  MobileNetV2Options o;
  o.num_classes = 0;
  expect_invalid(o);
  o = {};
  o.width_mult = 0.0;
  expect_invalid(o);
  o = {};
  o.round_nearest = 0;
  expect_invalid(o);
  o = {};
  o.dropout = 1.5;
  expect_invalid(o);
  EXPECT_THROW(MobileNetV2InvertedResidual(16, 16, 3, 6, Init::kSkip), Error);
  EXPECT_THROW(MobileNetV2InvertedResidual(16, 16, 1, 0, Init::kSkip), Error);
}

// The skip connection exists exactly where torchvision's use_res_connect holds, and adds the
// input: with kSkip's zero convolutions the branch is 0 in eval, so the block returns its input,
// where the strided block (no skip) returns zeros.
TEST(MobileNetV2, InvertedResidualAddsTheInputOnlyWithoutStrideOrChannelChange) {
  MobileNetV2InvertedResidual same(16, 16, 1, 6, Init::kSkip);
  MobileNetV2InvertedResidual strided(16, 16, 2, 6, Init::kSkip);
  MobileNetV2InvertedResidual wider(16, 24, 1, 6, Init::kSkip);
  EXPECT_TRUE(same.use_res_connect());
  EXPECT_FALSE(strided.use_res_connect());
  EXPECT_FALSE(wider.use_res_connect());
  same.eval();
  torch::NoGradGuard no_grad;
  // Zero weights: the branch computes 0, so the block is the identity or zero.
  for (auto* block : {&same, &strided}) {
    for (auto& p : block->parameters()) p.zero_();
  }
  const torch::Tensor x = torch::randn({2, 16, 8, 8});
  EXPECT_TRUE(torch::equal(same.forward(x), x));
  strided.eval();
  EXPECT_TRUE(torch::all(strided.forward(x) == 0).item<bool>());
}

}  // namespace
}  // namespace ptinfer::models
