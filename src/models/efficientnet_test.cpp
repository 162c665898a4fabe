// EfficientNet's own behaviour: input, option and arch checks, Init::kSkip, torchvision's
// initialisation, training mode (dropout, stochastic depth, autograd). Parity with torchvision
// is zoo_parity_test.cpp.
#include "models/efficientnet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "models/blocks/stochastic_depth.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

// B0 (MBConv only, nn.BatchNorm2d's defaults) and V2-S (FusedMBConv stages, eps 1e-3).
const char* const kArchs[] = {"efficientnet_b0", "efficientnet_v2_s"};

TEST(EfficientNet, RejectsInputsThatAreNotImageBatches) {
  for (const char* arch : kArchs) checks::expect_rejects_non_image_batches(arch);
}

TEST(EfficientNet, SkippedInitialisationBuildsTheSameModules) {
  for (const char* arch : kArchs) checks::expect_skip_builds_the_same_modules(arch);
}

TEST(EfficientNet, TrainsWithAutograd) {
  for (const char* arch : kArchs) checks::expect_trains(arch);
}

TEST(EfficientNet, RunsInBfloat16WithFp32BatchNorm) {
  for (const char* arch : kArchs) checks::expect_runs_in_bfloat16(arch);
}

TEST(EfficientNet, DropoutOnlyInTraining) {
  for (const char* arch : kArchs) checks::expect_dropout_only_in_training(arch);
}

// Convs kaiming_normal_(fan_out) with zero bias, BatchNorm 1/0, Linear uniform within
// 1/sqrt(out_features) with zero bias.
TEST(EfficientNet, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = efficientnet("efficientnet_b0", 1000);
  auto params = model->named_parameters();
  const torch::Tensor conv = params["features.8.0.weight"];  // [1280, 320, 1, 1]
  const double conv_std = checks::kaiming_fan_out_std(conv);
  EXPECT_NEAR(conv.std().item<double>(), conv_std, 0.02 * conv_std);
  EXPECT_TRUE(torch::all(params["features.2.0.block.2.fc1.bias"] == 0).item<bool>());
  const torch::Tensor fc = params["classifier.1.weight"];  // [1000, 1280]
  const double bound = 1.0 / std::sqrt(1000.0);
  EXPECT_LE(fc.abs().max().item<double>(), bound);
  EXPECT_GE(fc.abs().max().item<double>(), 0.999 * bound);
  EXPECT_NEAR(fc.std().item<double>(), bound / std::sqrt(3.0), 0.01 * bound);
  EXPECT_TRUE(torch::all(params["classifier.1.bias"] == 0).item<bool>());
  for (const auto& module : model->modules(/*include_self=*/false)) {
    if (const auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      EXPECT_TRUE(torch::all(bn->weight == 1).item<bool>() &&
                  torch::all(bn->bias == 0).item<bool>());
    }
  }
}

// Block i of n (counted over all stages, in order) drops its branch with probability
// 0.2 * i / n, as torchvision's sd_prob.
TEST(EfficientNet, StochasticDepthGrowsLinearlyOverTheBlocks) {
  for (const char* arch : {"efficientnet_b0", "efficientnet_b7", "efficientnet_v2_s"}) {
    auto model = efficientnet(arch, 10, Init::kSkip);
    std::vector<double> p;
    for (const auto& module : model->modules(/*include_self=*/false)) {
      if (const auto* sd = module->as<StochasticDepth>()) p.push_back(sd->p());
    }
    size_t blocks = 0;
    for (const auto& cnf : efficientnet_options(arch, 10, Init::kSkip).setting) {
      blocks += static_cast<size_t>(cnf.num_layers);
    }
    ASSERT_EQ(p.size(), blocks) << arch;
    for (size_t i = 0; i < p.size(); ++i) {
      EXPECT_DOUBLE_EQ(p[i], 0.2 * static_cast<double>(i) / static_cast<double>(p.size()))
          << arch << " block " << i;
    }
  }
}

MBConvConfig residual_stage(MBConvKind kind) {
  MBConvConfig cnf;
  cnf.block = kind;
  cnf.expand_ratio = 4;
  cnf.kernel = 3;
  cnf.stride = 1;
  cnf.input_channels = cnf.out_channels = 16;
  return cnf;
}

torch::Tensor branch(torch::nn::Module& block, const torch::Tensor& x) {
  return block.named_children()["block"]->as<torch::nn::Sequential>()->forward(x);
}

// Stochastic depth "row": in training each sample's branch is dropped (output = input) or kept
// and scaled by 1 / (1 - p); p = 1 drops every branch; in eval the branch is always added.
TEST(EfficientNet, StochasticDepthDropsWholeSamplesInTrainingOnly) {
  torch::manual_seed(0);
  for (MBConvKind kind : {MBConvKind::kMBConv, MBConvKind::kFusedMBConv}) {
    std::shared_ptr<torch::nn::Module> always, half;
    if (kind == MBConvKind::kMBConv) {
      always =
          std::make_shared<MBConv>(residual_stage(kind), 1.0, BatchNormSpec{}, Init::kTorchvision);
      half =
          std::make_shared<MBConv>(residual_stage(kind), 0.5, BatchNormSpec{}, Init::kTorchvision);
    } else {
      always = std::make_shared<FusedMBConv>(residual_stage(kind), 1.0, BatchNormSpec{},
                                             Init::kTorchvision);
      half = std::make_shared<FusedMBConv>(residual_stage(kind), 0.5, BatchNormSpec{},
                                           Init::kTorchvision);
    }
    auto run = [kind](torch::nn::Module& m, const torch::Tensor& x) {
      return kind == MBConvKind::kMBConv ? m.as<MBConv>()->forward(x)
                                         : m.as<FusedMBConv>()->forward(x);
    };
    torch::NoGradGuard no_grad;
    const torch::Tensor x = torch::randn({64, 16, 6, 6});
    always->train();
    EXPECT_TRUE(torch::equal(run(*always, x), x));
    always->eval();
    EXPECT_FALSE(torch::equal(run(*always, x), x));
    EXPECT_TRUE(torch::allclose(run(*always, x), x + branch(*always, x)));

    half->train();
    const torch::Tensor y = run(*half, x);
    const torch::Tensor kept = x + 2.0 * branch(*half, x);  // train-mode BN: the same batch
    int dropped = 0, scaled = 0;
    for (int64_t i = 0; i < x.size(0); ++i) {
      if (torch::equal(y[i], x[i])) {
        ++dropped;
      } else {
        EXPECT_TRUE(torch::allclose(y[i], kept[i], 1e-5, 1e-5)) << "sample " << i;
        ++scaled;
      }
    }
    EXPECT_GT(dropped, 0);
    EXPECT_GT(scaled, 0);
  }
}

TEST(EfficientNet, RejectsBadOptionsAndArchs) {
  try {
    efficientnet_options("efficientnet_b8", 10, Init::kSkip);
    FAIL() << "an unknown arch was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("efficientnet_b8"), std::string::npos) << e.what();
  }
  auto expect_invalid = [](const EfficientNetOptions& options, const char* what) {
    try {
      EfficientNet model(options);
      ADD_FAILURE() << what << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << what;
    }
  };
  expect_invalid(EfficientNetOptions{}, "an empty setting");
  EfficientNetOptions o = efficientnet_options("efficientnet_b0", 10, Init::kSkip);
  o.setting[2].num_layers = 0;
  expect_invalid(o, "a stage without layers");
  o = efficientnet_options("efficientnet_b0", 10, Init::kSkip);
  o.stochastic_depth_prob = 1.5;
  expect_invalid(o, "stochastic_depth_prob 1.5");
  o = efficientnet_options("efficientnet_b0", 10, Init::kSkip);
  o.dropout = -0.1;
  expect_invalid(o, "dropout -0.1");
  o = efficientnet_options("efficientnet_b0", 0, Init::kSkip);
  expect_invalid(o, "num_classes 0");
  MBConvConfig strided = residual_stage(MBConvKind::kMBConv);
  strided.stride = 3;
  EXPECT_THROW(MBConv(strided, 0.0, BatchNormSpec{}, Init::kSkip), Error);
  strided.block = MBConvKind::kFusedMBConv;
  EXPECT_THROW(FusedMBConv(strided, 0.0, BatchNormSpec{}, Init::kSkip), Error);
}

}  // namespace
}  // namespace ptinfer::models
