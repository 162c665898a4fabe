// GoogLeNet's own behaviour: transform_input for pretrained only, the auxiliary heads never
// run, torchvision's initialisation, Init::kSkip, the input check, dropout in train() only.
// Parity with torchvision (transform_input off, as its builder without weights) is
// zoo_parity_test.cpp.
#include "models/googlenet.h"

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

// With ModelConfig::pretrained the model is the non-transforming one applied to the transformed
// input; without, it does not transform.
TEST(GoogLeNet, TransformInputOnlyForPretrained) {
  ModelConfig config;
  config.num_classes = 10;
  torch::manual_seed(0);
  auto plain = googlenet(config);
  config.pretrained = true;
  auto pretrained = googlenet(config);
  EXPECT_FALSE(plain->options().transform_input);
  EXPECT_TRUE(pretrained->options().transform_input);
  // The registry's factory passes the flag through.
  EXPECT_TRUE(std::dynamic_pointer_cast<GoogLeNet>(create_model("googlenet", config))
                  ->options()
                  .transform_input);
  torch::NoGradGuard no_grad;
  // torchvision's std 0.01 convs shrink activations to nothing across 57 layers (the logits are
  // fc's bias for any input): kaiming_normal_ keeps their scale, so the input matters.
  for (auto& module : plain->modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight);
    }
  }
  const auto from = plain->named_parameters();
  auto to = pretrained->named_parameters();
  for (const auto& p : from) to[p.key()].copy_(p.value());
  plain->eval();
  pretrained->eval();
  const torch::Tensor x = torch::randn({2, 3, 64, 64});
  const torch::Tensor expected = plain->forward(to_half_range(x));
  const torch::Tensor y = pretrained->forward(x);
  EXPECT_LE(((y - expected).norm() / expected.norm()).item<double>(), 1e-5);
  // The transform matters for these weights, so the check above can fail.
  EXPECT_GT(((plain->forward(x) - expected).norm() / expected.norm()).item<double>(), 1e-2);
}

// aux1 and aux2 are registered (torchvision's checkpoint keys) but not run in train() either:
// their parameters get no gradient and their BatchNorm statistics stay.
TEST(GoogLeNet, AuxiliaryHeadsAreNeverRun) {
  checks::expect_trains("googlenet", {2, 3, 64, 64}, {"aux1.", "aux2."});
  torch::manual_seed(0);
  auto model = create_model("googlenet", 10);
  auto buffers = model->named_buffers();
  const torch::Tensor aux_count = buffers["aux1.conv.bn.num_batches_tracked"].clone();
  const torch::Tensor main_count = buffers["inception4a.branch1.bn.num_batches_tracked"].clone();
  model->train();
  model->forward(torch::randn({2, 3, 64, 64}));
  EXPECT_TRUE(torch::equal(buffers["aux1.conv.bn.num_batches_tracked"], aux_count));
  EXPECT_FALSE(torch::equal(buffers["inception4a.branch1.bn.num_batches_tracked"], main_count));
}

TEST(GoogLeNet, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = create_model("googlenet", 1000);
  auto params = model->named_parameters();
  // trunc_normal_(0, 0.01, a=-2, b=2): the bounds are 200 std away, so a plain N(0, 0.01^2).
  for (const char* key : {"inception4e.branch2.1.conv.weight", "fc.weight", "aux2.fc1.weight"}) {
    EXPECT_NEAR(params[key].std().item<double>(), 0.01, 0.0003) << key;
    EXPECT_NEAR(params[key].mean().item<double>(), 0.0, 0.0003) << key;
  }
  EXPECT_TRUE(torch::all(params["inception5b.branch4.1.bn.weight"] == 1).item<bool>());
  EXPECT_TRUE(torch::all(params["inception5b.branch4.1.bn.bias"] == 0).item<bool>());
  // Linear biases keep nn.Linear's default: uniform within 1/sqrt(fan_in), not zero.
  const torch::Tensor bias = params["fc.bias"];
  EXPECT_LE(bias.abs().max().item<double>(), 1.0 / std::sqrt(1024.0));
  EXPECT_GT(bias.abs().max().item<double>(), 0.0);
}

// torchvision's branch3 quirk: a 3x3 conv where the paper has 5x5.
TEST(GoogLeNet, Branch3HasTorchvisionsThreeByThreeConv) {
  auto model = create_model("googlenet", 10, Init::kSkip);
  EXPECT_EQ(model->named_parameters()["inception3a.branch3.1.conv.weight"].sizes().vec(),
            (std::vector<int64_t>{32, 16, 3, 3}));
}

TEST(GoogLeNet, SkippedInitialisationBuildsTheSameModules) {
  checks::expect_skip_builds_the_same_modules("googlenet", {2, 3, 32, 32});
}

TEST(GoogLeNet, RejectsBadInputsAndOptions) {
  checks::expect_rejects_non_image_batches("googlenet");
  GoogLeNetOptions options;
  options.num_classes = 0;
  EXPECT_THROW(GoogLeNet{options}, Error);
}

TEST(GoogLeNet, RunsInBf16) {
  checks::expect_runs_in_bfloat16("googlenet", {2, 3, 32, 32}, {"aux1.", "aux2."});
}

TEST(GoogLeNet, DropoutOnlyInTraining) {
  checks::expect_dropout_only_in_training("googlenet", {2, 3, 32, 32});
}

}  // namespace
}  // namespace ptinfer::models
