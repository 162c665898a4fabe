// torchvision's MLP layout (child indices, hence state-dict keys), its dropout and its checks.
#include "models/blocks/mlp.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/error.h"

namespace ptinfer::models {
namespace {

std::vector<std::string> keys(const torch::nn::Module& module) {
  std::vector<std::string> out;
  for (const auto& p : module.named_parameters()) out.push_back(p.key());
  return out;
}

// Linear, activation, Dropout per hidden layer, then Linear, Dropout: ViT's mlp.0 / mlp.3.
TEST(Mlp, ChildIndicesAreTorchvisions) {
  auto two = make_mlp(MlpOptions(8, {32, 8}).with_activation(ActivationKind::kGELU), Init::kSkip);
  EXPECT_EQ(two->size(), 5u);
  EXPECT_EQ(keys(*two), (std::vector<std::string>{"0.weight", "0.bias", "3.weight", "3.bias"}));
  auto three = make_mlp(MlpOptions(8, {16, 16, 4}).with_bias(false), Init::kSkip);
  EXPECT_EQ(keys(*three), (std::vector<std::string>{"0.weight", "3.weight", "6.weight"}));
  EXPECT_EQ(three->named_parameters()["6.weight"].sizes().vec(), (std::vector<int64_t>{4, 16}));
  const auto* act = three[1]->as<ActivationImpl>();
  ASSERT_NE(act, nullptr);
  EXPECT_EQ(act->kind(), ActivationKind::kReLU);  // torchvision's default activation_layer
}

TEST(Mlp, XavierInitAndDropoutInTrainingOnly) {
  torch::manual_seed(0);
  auto mlp = make_mlp(MlpOptions(64, {256, 64}).with_dropout(0.5), Init::kTorchvision);
  init_mlp_xavier(mlp);
  const auto params = mlp->named_parameters();
  // xavier_uniform_: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
  EXPECT_LE(params["0.weight"].abs().max().item<double>(), std::sqrt(6.0 / (64 + 256)));
  EXPECT_GT(params["0.weight"].abs().max().item<double>(), 0.9 * std::sqrt(6.0 / (64 + 256)));
  EXPECT_NEAR(params["3.bias"].std().item<double>(), 1e-6, 3e-7);
  const torch::Tensor x = torch::randn({4, 64});
  torch::NoGradGuard no_grad;
  mlp->eval();
  EXPECT_TRUE(torch::equal(mlp->forward(x), mlp->forward(x)));
  mlp->train();
  EXPECT_FALSE(torch::equal(mlp->forward(x), mlp->forward(x)));
}

TEST(Mlp, RejectsBadOptions) {
  EXPECT_THROW(make_mlp(MlpOptions(8, {}), Init::kSkip), Error);
  EXPECT_THROW(make_mlp(MlpOptions(8, {0, 8}), Init::kSkip), Error);
  EXPECT_THROW(make_mlp(MlpOptions(8, {8}).with_dropout(-0.1), Init::kSkip), Error);
}

}  // namespace
}  // namespace ptinfer::models
