#include "fastpath/graph_model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <memory>

#include "fastpath/graph/graph_test_models.h"
#include "models/model_test_fixtures.h"
#include "models/registry.h"

namespace ptinfer::fastpath {
namespace {

double rel_l2(const torch::Tensor& y, const torch::Tensor& ref) {
  return ((y - ref).norm() / ref.norm()).item<double>();
}

TEST(GraphModel, EachShapeGetsItsGraphAndTheNumbersOfThePlainForward) {
  auto model = std::make_shared<graph::testing::ConvBnNet>();
  GraphModel fast(model);
  EXPECT_TRUE(fast.node_kinds().empty());  // nothing traced yet
  torch::NoGradGuard no_grad;
  // More shapes than are kept: the oldest are traced again when they come back.
  for (int round = 0; round < 2; ++round) {
    for (int64_t side = 8; side < 8 + static_cast<int64_t>(GraphModel::kMaxShapes) + 2; ++side) {
      const torch::Tensor x = torch::randn({1 + side % 3, 3, side, side});
      const torch::Tensor y = fast.forward(x);
      EXPECT_LE(rel_l2(y, model->forward(x)), 1e-6) << side;
      EXPECT_EQ(fast.node_kinds().count("aten::batch_norm"), 0u) << side;  // folded
      EXPECT_EQ(fast.node_kinds().at("aten::_convolution"), 2) << side;
    }
  }
  // Other float dtypes are taken as float32.
  const torch::Tensor x = torch::randn({2, 3, 8, 8});
  EXPECT_EQ(fast.forward(x.to(torch::kFloat64)).scalar_type(), torch::kFloat32);
  EXPECT_LE(rel_l2(fast.forward(x.to(torch::kFloat64)), model->forward(x)), 1e-6);
}

TEST(GraphModel, LeavesTheModelsWeightsAsTheyWere) {
  auto model = std::make_shared<graph::testing::ConvBnNet>();
  const torch::Tensor weight = model->conv1->weight.clone();
  const torch::Tensor mean = model->bn1->running_mean.clone();
  GraphModel fast(model);
  fast.forward(torch::randn({2, 3, 8, 8}));
  EXPECT_TRUE(torch::equal(model->conv1->weight, weight));
  EXPECT_TRUE(torch::equal(model->bn1->running_mean, mean));
  EXPECT_TRUE(model->conv1->weight.requires_grad());
}

// A forward that writes into its own buffer: the graph cannot keep that constant, so the
// shape runs the plain forward (and the trace, which runs the forward once, counts too).
struct CountingNet : models::ImageClassifier {
  CountingNet() { calls = register_buffer("calls", torch::zeros({1})); }
  torch::Tensor forward(torch::Tensor x) override {
    calls.add_(1);
    return torch::flatten(x, 1) * calls;
  }
  torch::Tensor calls;
};

TEST(GraphModel, AShapeWhoseGraphCannotBeBuiltRunsThePlainForward) {
  auto model = std::make_shared<CountingNet>();
  GraphModel fast(model);
  const torch::Tensor x = torch::randn({2, 3, 4, 4});
  const torch::Tensor y = fast.forward(x);
  EXPECT_TRUE(fast.node_kinds().empty());
  EXPECT_EQ(model->calls.item<float>(), 2.0f);  // the trace's forward, then the plain one
  EXPECT_TRUE(torch::equal(y, torch::flatten(x, 1) * 2));
  fast.forward(x);  // not traced again
  EXPECT_EQ(model->calls.item<float>(), 3.0f);
}

// Every architecture of the zoo through the general graph, on the parity fixtures
// (make_model_fixtures.py). In float64 against the plain forward, within 1e-6: what the passes
// change in the numbers is then the rounding of double arithmetic (amplified to 3e-8 by
// efficientnet_b5's fixture, below 1e-12 for most), and a wrong rewrite shows.
// In fp32 against torchvision's logits the relative L2 is printed, not asserted: several
// fixtures amplify any rounding change by ~1e6 (efficientnet_b5's logits move by 0.79 when the
// input moves by 1e-7), so fp32 parity at 1e-4 needs better-conditioned
// fixtures first. One ctest entry per family, filtered as the zoo's parity tests
// (src/fastpath/CMakeLists.txt).
class GraphParity : public ::testing::TestWithParam<std::string> {};

TEST_P(GraphParity, SameLogitsAsThePlainForward) {
  const std::string arch = GetParam();
  const auto dir = testing::model_fixture_dir("models");
  const auto index = testing::read_json(dir / (arch + ".json"));
  auto model = testing::fixture_model(arch);
  const auto& in = index.at("inputs").at(0);
  const auto shape = in.at("shape").get<std::vector<int64_t>>();
  const auto logits_shape = in.at("logits_shape").get<std::vector<int64_t>>();
  const torch::Tensor x =
      testing::read_raw(dir / in.at("input").get<std::string>(), 0, shape, torch::kFloat32);
  const torch::Tensor ref =
      testing::read_raw(dir / in.at("logits").get<std::string>(), 0, logits_shape, torch::kFloat32);
  torch::NoGradGuard no_grad;
  {
    GraphModel fast(model);
    const torch::Tensor y = fast.forward(x);
    ASSERT_EQ(y.sizes().vec(), logits_shape) << arch;
    int64_t nodes = 0;
    for (const auto& [kind, n] : fast.node_kinds()) nodes += n;
    EXPECT_GT(nodes, 0) << arch << ": ran the plain forward";
    const auto kinds = fast.node_kinds();
    std::cout << arch << " fp32: relative L2 to torchvision " << rel_l2(y, ref) << ", " << nodes
              << " nodes, " << (kinds.count("aten::batch_norm") ? kinds.at("aten::batch_norm") : 0)
              << " BatchNorms left\n";
  }
  // Module::to(dtype) would convert the integer buffers too (Swin's relative position index).
  for (auto& t : model->parameters()) t.set_data(t.to(torch::kFloat64));
  for (auto& t : model->buffers()) {
    if (t.is_floating_point()) t.set_data(t.to(torch::kFloat64));
  }
  GraphModel fast(model);
  const torch::Tensor x64 = x.slice(0, 0, 1).to(torch::kFloat64);  // one image: double is slow
  const torch::Tensor y = fast.forward(x64);
  ASSERT_EQ(y.scalar_type(), torch::kFloat64);
  const double rel = rel_l2(y, model->forward(x64));
  std::cout << arch << " float64: relative L2 to the plain forward " << rel << "\n";
  EXPECT_LE(rel, 1e-6) << arch;
}

INSTANTIATE_TEST_SUITE_P(Zoo, GraphParity, ::testing::ValuesIn(models::model_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ptinfer::fastpath
