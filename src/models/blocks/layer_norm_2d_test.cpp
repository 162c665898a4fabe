// LayerNorm2d normalises each pixel over the channels (not the last dimension), with
// nn.LayerNorm's parameter names.
#include "models/blocks/layer_norm_2d.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"

namespace ptinfer::models {
namespace {

TEST(LayerNorm2d, NormalisesEachPixelOverTheChannels) {
  torch::manual_seed(0);
  LayerNorm2d norm(5, 1e-6);
  auto params = norm->named_parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params.keys(), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_TRUE(torch::all(params["weight"] == 1).item<bool>());
  EXPECT_TRUE(torch::all(params["bias"] == 0).item<bool>());
  {
    torch::NoGradGuard no_grad;
    params["weight"].copy_(torch::rand({5}) + 0.5);
    params["bias"].copy_(torch::randn({5}));
  }
  const torch::Tensor x = torch::randn({2, 5, 3, 4}) * 3 + 1;
  // The definition, along dim 1 of the NCHW tensor: biased variance, eps inside the root.
  const torch::Tensor mean = x.mean(1, /*keepdim=*/true);
  const torch::Tensor var = (x - mean).pow(2).mean(1, /*keepdim=*/true);
  const torch::Tensor expected =
      (x - mean) / torch::sqrt(var + 1e-6) * params["weight"].view({1, 5, 1, 1}) +
      params["bias"].view({1, 5, 1, 1});
  const torch::Tensor y = norm(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(torch::allclose(y, expected, 1e-5, 1e-5));
  EXPECT_THROW(LayerNorm2d(0), Error);
}

}  // namespace
}  // namespace ptinfer::models
