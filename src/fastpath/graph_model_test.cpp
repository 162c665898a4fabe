#include "fastpath/graph_model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <iostream>
#include <memory>

#include "fastpath/graph/graph_test_models.h"
#include "fastpath/graph/passes.h"
#include "models/model_test_fixtures.h"
#include "models/registry.h"

namespace ptinfer::fastpath {
namespace {

using graph::testing::rel_l2;

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
      EXPECT_LE(rel_l2(y, model->forward(x)), 1e-5) << side;
      EXPECT_EQ(fast.node_kinds().count("aten::batch_norm"), 0u) << side;  // folded
      EXPECT_EQ(fast.node_kinds().at("onednn::convolution"), 2) << side;    // lowered
    }
  }
  // Other float dtypes are taken as float32.
  const torch::Tensor x = torch::randn({2, 3, 8, 8});
  EXPECT_EQ(fast.forward(x.to(torch::kFloat64)).scalar_type(), torch::kFloat32);
  EXPECT_LE(rel_l2(fast.forward(x.to(torch::kFloat64)), model->forward(x)), 1e-5);
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
// fp32, with the oneDNN kernels: the same top-1 as torchvision's logits on every image of the
// fixture, and on the first image a relative L2 to them within 1e-4, or within 4x of PyTorch's
// own fp32 departure from float64 arithmetic on that image where that exceeds 2.5e-5 (the
// fixture's conditioning: inception_v3's and the RegNet-Ys' random weights move their logits
// by ~1e-4 for a 1e-7 change of the input; there PyTorch's fp32 is 5e-5 to 9e-5 from float64,
// ours ~2x that, as two independent fp32 roundings are). float64, with LibTorch's kernels in
// the graph (oneDNN has no float64): within 1e-6 of the plain forward, which checks the passes'
// rewriting apart from rounding. One ctest entry per family, filtered as the zoo's parity tests
// (src/fastpath/CMakeLists.txt).
TEST(GraphModel, LargerBatchesComeFromSmallRecordsOrAWholeTrace) {
  torch::NoGradGuard no_grad;
  auto model = std::make_shared<graph::testing::ActivationNet>();
  GraphModel fast(model);
  for (int64_t n : {7, 4, 1, 2, 3}) {
    const torch::Tensor x = torch::randn({n, 3, 17, 17});
    const torch::Tensor ref = model->forward(x);
    EXPECT_LE(rel_l2(fast.forward(x), ref), 1e-5) << n;
  }
  // A model whose record depends on the batch other than linearly is traced whole.
  struct SquaredBatchNet : models::ImageClassifier {
    torch::Tensor forward(torch::Tensor x) override {
      return x.mean({2, 3}).repeat({x.size(0), 1}).view({x.size(0), -1});
    }
  };
  auto squared = std::make_shared<SquaredBatchNet>();
  GraphModel fast_squared(squared);
  const torch::Tensor x = torch::randn({5, 3, 4, 4});
  EXPECT_TRUE(torch::allclose(fast_squared.forward(x), squared->forward(x)));
}

TEST(GraphModel, Bf16RunsTheKernelsInBf16WithinItsRounding) {
  auto model = std::make_shared<graph::testing::ActivationNet>();
  graph::OptimizeOptions options;
  options.dtype = torch::kBFloat16;
  GraphModel fast(model, options);
  const torch::Tensor x = torch::randn({2, 3, 17, 17});
  torch::NoGradGuard no_grad;
  const torch::Tensor y = fast.forward(x);
  ASSERT_EQ(y.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(fast.node_kinds().at("onednn::convolution"), 9);
  const torch::Tensor fp32 = model->forward(x);
  const double rel = rel_l2(y.to(torch::kFloat32), fp32);
  std::cout << "ActivationNet bf16: relative L2 to fp32 " << rel << "\n";
  EXPECT_LE(rel, 3e-2);
  EXPECT_GT(rel, 1e-5);  // bf16 rounding shows: the kernels did not run in fp32
  EXPECT_TRUE(torch::equal(fast.forward(x), y));  // the second run (no build) is the same
}

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
  torch::Tensor y32;
  {
    GraphModel fast(model);
    y32 = fast.forward(x);
    ASSERT_EQ(y32.sizes().vec(), logits_shape) << arch;
    const auto kinds = fast.node_kinds();
    int64_t nodes = 0, lowered = 0;
    for (const auto& [kind, n] : kinds) {
      nodes += n;
      lowered += kind.rfind("onednn::", 0) == 0 ? n : 0;
    }
    EXPECT_GT(nodes, 0) << arch << ": ran the plain forward";
    EXPECT_GT(lowered, 0) << arch << ": no node runs a oneDNN kernel";
    EXPECT_TRUE(torch::equal(y32.argmax(1), ref.argmax(1))) << arch << ": top-1 differs";
    std::cout << arch << " fp32: relative L2 to torchvision " << rel_l2(y32, ref) << ", "
              << nodes << " nodes, " << lowered << " oneDNN, "
              << (kinds.count("aten::batch_norm") ? kinds.at("aten::batch_norm") : 0)
              << " BatchNorms left\n";
  }
  {
    // bf16 (Apex O2's split: BatchNorm left unfolded stays fp32): reported, as the issue asks;
    // asserted only to run the graph's bf16 kernels (random weights make bf16's top-1 on random
    // images a measure of the fixture as much as of the kernels).
    graph::OptimizeOptions bf16;
    bf16.dtype = torch::kBFloat16;
    GraphModel fast(model, bf16);
    const torch::Tensor y = fast.forward(x);
    EXPECT_EQ(y.scalar_type(), torch::kBFloat16) << arch;
    int64_t lowered = 0;
    for (const auto& [kind, n] : fast.node_kinds()) lowered += kind.rfind("onednn::", 0) == 0 ? n : 0;
    EXPECT_GT(lowered, 0) << arch << ": no bf16 oneDNN kernel ran";
    const double agree = y.argmax(1).eq(y32.argmax(1)).to(torch::kFloat64).mean().item<double>();
    std::cout << arch << " bf16: relative L2 to fp32 " << rel_l2(y.to(torch::kFloat32), y32)
              << ", top-1 as fp32 on " << agree * 100 << "% of " << y.size(0) << " images\n";
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
  const torch::Tensor exact = model->forward(x64);
  const double rel = rel_l2(y, exact);
  EXPECT_LE(rel, 1e-6) << arch;
  const torch::Tensor ref0 = ref.slice(0, 0, 1).to(torch::kFloat64);
  const double torch_fp32_error = rel_l2(ref0, exact);
  const double ours = rel_l2(y32.slice(0, 0, 1).to(torch::kFloat64), ref0);
  const double tolerance = std::max(1e-4, 4 * torch_fp32_error);
  std::cout << arch << " first image: fp32 relative L2 to torchvision " << ours
            << " (tolerance " << tolerance << "; torchvision fp32 to float64 " << torch_fp32_error
            << "); float64 graph to the plain forward " << rel << "\n";
  EXPECT_LE(ours, tolerance) << arch;
}

INSTANTIATE_TEST_SUITE_P(Zoo, GraphParity, ::testing::ValuesIn(models::model_names()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace ptinfer::fastpath
