#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fastpath/graph/graph_test_models.h"
#include "fastpath/graph/onednn_kernels.h"
#include "fastpath/graph/passes.h"
#include "fastpath/graph/runner.h"
#include "models/forward_trace.h"

namespace ptinfer::fastpath::graph {
namespace {

using testing::count;
using testing::rel_l2;

Graph optimized(models::ImageClassifier& model, const torch::Tensor& x, bool onednn,
                FoldMemo* memo = nullptr) {
  Graph g = from_trace(*models::trace_graph(model, x));
  OptimizeOptions options;
  options.onednn_kernels = onednn;
  optimize(g, memo, options);
  return g;
}

torch::Tensor run(Graph g, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return GraphRunner(std::move(g)).run(x);
}

void expect_optimized_kernels(const Graph& g) {
  for (const Node& node : g.nodes) {
    const std::string kind = node.kind.toQualString();
    if (kind.rfind("onednn::", 0) != 0) continue;
    EXPECT_FALSE(node.implementation.empty()) << kind;
    EXPECT_NE(node.implementation.rfind("ref", 0), 0u) << kind << " " << node.implementation;
  }
}

TEST(LowerToOneDnnPass, ConvolutionsTakeTheirBatchNormReluAndResidualAdd) {
  testing::ConvBnNet model;
  const torch::Tensor x = torch::randn({2, 3, 9, 9});
  const torch::Tensor reference = run(optimized(model, x, false), x);
  const Graph g = optimized(model, x, true);
  EXPECT_EQ(count(g, "onednn::convolution"), 2);
  EXPECT_EQ(count(g, "onednn::linear"), 1);  // the head, traced as aten::addmm
  EXPECT_EQ(count(g, "aten::_convolution"), 0);
  EXPECT_EQ(count(g, "aten::addmm"), 0);
  EXPECT_EQ(count(g, "aten::relu"), 0);  // post-op of the first convolution
  EXPECT_EQ(count(g, "aten::add"), 0);   // sum post-op of the second
  expect_optimized_kernels(g);
  EXPECT_LE(rel_l2(run(g, x), reference), 1e-5);
}

TEST(LowerToOneDnnPass, EachActivationAndResidualFormKeepsTheNumbers) {
  testing::ActivationNet model;
  const torch::Tensor x = torch::randn({2, 3, 17, 17});
  torch::Tensor plain;
  {
    torch::NoGradGuard no_grad;
    plain = model.forward(x);
  }
  const Graph g = optimized(model, x, true);
  EXPECT_EQ(count(g, "onednn::convolution"), 9);
  EXPECT_EQ(count(g, "onednn::linear"), 3);
  EXPECT_EQ(count(g, "onednn::matmul"), 2);
  for (const char* fused : {"aten::hardtanh", "aten::hardswish", "aten::silu", "aten::gelu",
                            "aten::sigmoid", "aten::relu", "aten::matmul", "aten::addmm"}) {
    EXPECT_EQ(count(g, fused), 0) << fused;
  }
  // The SE-like hardsigmoid fuses into its convolution; the multiply it feeds stays.
  EXPECT_EQ(count(g, "aten::hardsigmoid"), 0);
  EXPECT_EQ(count(g, "aten::mul"), 1);
  expect_optimized_kernels(g);
  const torch::Tensor y = run(g, x);
  EXPECT_LE(rel_l2(y, plain), 1e-5);
  // The same graph again: the in-place sum wrote into a value of that run only.
  EXPECT_LE(rel_l2(run(g, x), plain), 1e-5);
}

TEST(LowerToOneDnnPass, LeavesFloat64GraphsToLibTorch) {
  testing::ConvBnNet model;
  model.to(torch::kFloat64);
  const torch::Tensor x = torch::randn({1, 3, 9, 9}, torch::kFloat64);
  Graph g = from_trace(*models::trace_graph(model, x));
  OptimizeOptions no_lowering;
  no_lowering.onednn_kernels = false;
  optimize(g, nullptr, no_lowering);
  EXPECT_EQ(lower_to_onednn(g), 0);
  EXPECT_EQ(count(g, "aten::_convolution"), 2);
}

TEST(LowerToOneDnnPass, GraphsOfOneModelShareThePackedWeights) {
  testing::ActivationNet model;
  FoldMemo memo;
  optimized(model, torch::randn({1, 3, 17, 17}), true, &memo);
  const size_t packed = memo.packed_weights->entries();
  EXPECT_GE(packed, 12u);  // 9 convolutions, 3 linear layers
  optimized(model, torch::randn({3, 3, 17, 17}), true, &memo);
  EXPECT_EQ(memo.packed_weights->entries(), packed);
}

TEST(RemoveInferenceIdentitiesPass, DropsDropoutInEvalMode) {
  struct DropoutNet : models::ImageClassifier {
    DropoutNet() {
      fc = register_module("fc", torch::nn::Linear(3, 4));
      dropout = register_module("dropout", torch::nn::Dropout(0.5));
      eval();
    }
    torch::Tensor forward(torch::Tensor x) override {
      return torch::relu(dropout(fc(x.mean({2, 3}))));
    }
    torch::nn::Linear fc{nullptr};
    torch::nn::Dropout dropout{nullptr};
  } model;
  const torch::Tensor x = torch::randn({2, 3, 4, 4});
  Graph g = from_trace(*models::trace_graph(model, x));
  ASSERT_EQ(count(g, "aten::dropout"), 1);
  const torch::Tensor before = run(g, x);
  EXPECT_EQ(remove_inference_identities(g), 1);
  EXPECT_EQ(count(g, "aten::dropout"), 0);
  EXPECT_TRUE(torch::equal(run(g, x), before));
  // Now the ReLU follows the linear layer directly and fuses into it.
  optimize(g);
  EXPECT_EQ(count(g, "onednn::linear"), 1);
  EXPECT_EQ(count(g, "aten::relu"), 0);
  EXPECT_LE(rel_l2(run(g, x), before), 1e-6);
}

}  // namespace
}  // namespace ptinfer::fastpath::graph
