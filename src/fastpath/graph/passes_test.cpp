#include "fastpath/graph/passes.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fastpath/graph/graph_test_models.h"
#include "fastpath/graph/runner.h"
#include "models/forward_trace.h"

namespace ptinfer::fastpath::graph {
namespace {

using testing::count;
using testing::rel_l2;

Graph traced(models::ImageClassifier& model, const torch::Tensor& x) {
  return from_trace(*models::trace_graph(model, x));
}

torch::Tensor run(Graph g, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return GraphRunner(std::move(g)).run(x);
}

TEST(FoldBatchNormPass, FoldsEachBatchNormIntoItsConvolution) {
  testing::ConvBnNet model;
  const torch::Tensor x = torch::randn({2, 3, 9, 9});
  Graph g = traced(model, x);
  const torch::Tensor unfused = run(g, x);
  EXPECT_EQ(fold_batch_norm(g), 2);
  EXPECT_EQ(count(g, "aten::batch_norm"), 0);
  EXPECT_EQ(count(g, "aten::_convolution"), 2);
  const torch::Tensor folded = run(g, x);
  EXPECT_LE(rel_l2(folded, unfused), 1e-6);
  // The BatchNorms are not identities: skipping them instead of folding would fail.
  torch::NoGradGuard no_grad;
  model.bn1->running_var.fill_(1.0);
  model.bn1->running_mean.zero_();
  EXPECT_GT(rel_l2(model.forward(x), unfused), 1e-2);
}

TEST(FoldBatchNormPass, LeavesABatchNormWhoseConvolutionOutputIsReadTwice) {
  testing::ConvBnNet model(/*shared_conv_output=*/true);
  const torch::Tensor x = torch::randn({2, 3, 9, 9});
  Graph g = traced(model, x);
  const torch::Tensor unfused = run(g, x);
  EXPECT_EQ(fold_batch_norm(g), 1);  // bn1 only
  EXPECT_EQ(count(g, "aten::batch_norm"), 1);
  EXPECT_LE(rel_l2(run(g, x), unfused), 1e-6);
}

TEST(FoldBatchNormPass, GraphsOfOneModelShareTheFoldedWeightsThroughTheMemo) {
  testing::ConvBnNet model;
  FoldMemo memo;
  Graph a = traced(model, torch::randn({1, 3, 8, 8}));
  Graph b = traced(model, torch::randn({4, 3, 12, 12}));
  fold_batch_norm(a, &memo);
  fold_batch_norm(b, &memo);
  EXPECT_EQ(memo.results.size(), 2u);
  const auto weight_of_first_conv = [](const Graph& g) {
    for (const Node& node : g.nodes) {
      if (node.kind.toQualString() == std::string("aten::_convolution")) {
        return g.constant(node.inputs[1]).toTensor();
      }
    }
    return torch::Tensor();
  };
  EXPECT_TRUE(weight_of_first_conv(a).is_same(weight_of_first_conv(b)));
  EXPECT_FALSE(weight_of_first_conv(a).is_same(model.conv1->weight));  // folded, a new tensor
}

TEST(FoldConstantsPass, RunsTheConstantSubgraphAtBuildTime) {
  testing::MixedNet model;
  const torch::Tensor x = torch::randn({2, 3, 6, 6});
  Graph g = traced(model, x);
  ASSERT_EQ(count(g, "aten::index_select"), 1);
  const torch::Tensor before = run(g, x);
  EXPECT_GE(fold_constants(g), 2);  // index_select and sum (and int lists, if any)
  EXPECT_EQ(count(g, "aten::index_select"), 0);
  EXPECT_EQ(count(g, "aten::sum"), 0);
  EXPECT_EQ(count(g, "aten::_convolution"), 1);  // it reads the input
  EXPECT_EQ(count(g, "aten::relu_"), 1);
  EXPECT_TRUE(torch::equal(run(g, x), before));
}

// Nodes value `id` is written by.
const Node& producer(const Graph& g, ValueId id) {
  for (const Node& node : g.nodes) {
    for (ValueId out : node.outputs) {
      if (out == id) return node;
    }
  }
  throw std::runtime_error("no producer");
}

TEST(RemoveDeadNodesPass, DropsUnreadNodesAndConstantsButKeepsInPlaceWrites) {
  testing::MixedNet model;
  const torch::Tensor x = torch::randn({2, 3, 6, 6});
  Graph g = traced(model, x);
  const torch::Tensor before = run(g, x);
  // The tracer leaves no dead node: make some. The output becomes the sum before the flatten,
  // and the mean reads the convolution's output instead of relu_'s alias of it, so nothing
  // reads what relu_ returns (its write still counts).
  const Node& flatten = producer(g, g.output);
  ASSERT_EQ(flatten.kind.toQualString(), std::string("aten::flatten"));
  g.output = flatten.inputs[0];
  for (Node& node : g.nodes) {
    if (node.kind.toQualString() == std::string("aten::mean")) {
      const Node& relu = producer(g, node.inputs[0]);
      ASSERT_EQ(relu.kind.toQualString(), std::string("aten::relu_"));
      node.inputs[0] = relu.inputs[0];
    }
  }
  // After fold_constants the table and index are read by nothing either.
  fold_constants(g);
  const size_t values_before = g.values.size();
  EXPECT_EQ(remove_dead_nodes(g), 1);  // the flatten
  EXPECT_EQ(count(g, "aten::flatten"), 0);
  EXPECT_EQ(count(g, "aten::relu_"), 1);
  EXPECT_LT(g.values.size(), values_before);
  for (const Value& v : g.values) {
    EXPECT_FALSE(v.constant && v.constant->isTensor() &&
                 v.constant->toTensor().is_same(model.table));
  }
  EXPECT_TRUE(torch::equal(run(g, x), before));  // flatten(y, 1) of [2, 4] is y itself
  EXPECT_EQ(remove_dead_nodes(g), 0);            // nothing left to remove
}

TEST(OptimizePasses, AllPassesTogetherKeepTheNumbers) {
  for (bool shared : {false, true}) {
    testing::ConvBnNet model(shared);
    const torch::Tensor x = torch::randn({3, 3, 10, 10});
    Graph g = traced(model, x);
    const torch::Tensor before = run(g, x);
    optimize(g);
    EXPECT_LE(rel_l2(run(g, x), before), 1e-6) << shared;
  }
}

}  // namespace
}  // namespace ptinfer::fastpath::graph
