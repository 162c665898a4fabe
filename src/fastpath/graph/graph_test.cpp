#include "fastpath/graph/graph.h"

#include <gtest/gtest.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/torch.h>

#include "common/error.h"
#include "fastpath/graph/graph_test_models.h"
#include "fastpath/graph/runner.h"
#include "models/forward_trace.h"

namespace ptinfer::fastpath::graph {
namespace {

TEST(Graph, FromTraceKeepsEveryNodeAndRunsAsTheModel) {
  testing::ConvBnNet model;
  const torch::Tensor x = torch::randn({2, 3, 9, 9});
  Graph g = from_trace(*models::trace_graph(model, x));
  const auto kinds = node_kinds(g);
  EXPECT_EQ(kinds.at("aten::_convolution"), 2);
  EXPECT_EQ(kinds.at("aten::batch_norm"), 2);
  EXPECT_EQ(kinds.at("aten::addmm"), 1);         // the linear head, as the tracer records it
  EXPECT_EQ(kinds.count("prim::Constant"), 0u);  // constants are values, not nodes
  // The weights are constants: the model's own tensors, not copies.
  bool conv1_weight_found = false;
  for (const Value& v : g.values) {
    conv1_weight_found =
        conv1_weight_found || (v.constant && v.constant->isTensor() &&
                               v.constant->toTensor().is_same(model.conv1->weight));
  }
  EXPECT_TRUE(conv1_weight_found);
  EXPECT_FALSE(g.is_constant(g.input));
  GraphRunner runner(std::move(g));
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(runner.run(x), model.forward(x)));
  // Run twice: nothing of the first run is left in the graph's values.
  const torch::Tensor x2 = torch::randn({2, 3, 9, 9});
  EXPECT_TRUE(torch::equal(runner.run(x2), model.forward(x2)));
}

TEST(Graph, InPlaceKinds) {
  EXPECT_TRUE(is_in_place(c10::Symbol::fromQualString("aten::relu_")));
  EXPECT_TRUE(is_in_place(c10::Symbol::fromQualString("aten::add_")));
  EXPECT_FALSE(is_in_place(c10::Symbol::fromQualString("aten::relu")));
  EXPECT_FALSE(is_in_place(c10::Symbol::fromQualString("aten::__and__")));
}

TEST(Graph, ReplaceUsesAndUseCounts) {
  testing::ConvBnNet model;
  Graph g = from_trace(*models::trace_graph(model, torch::randn({1, 3, 8, 8})));
  const auto uses = g.use_counts();
  EXPECT_EQ(uses.at(g.output), 1);  // the graph output counts as a read
  ValueId conv_out = -1;
  for (const Node& node : g.nodes) {
    if (conv_out < 0 && node.kind.toQualString() == std::string("aten::_convolution")) {
      conv_out = node.outputs.at(0);
    }
  }
  ASSERT_GE(conv_out, 0);
  ASSERT_EQ(uses.at(conv_out), 1);  // read by its BatchNorm
  const ValueId other = g.add_value();
  g.replace_uses(conv_out, other);
  EXPECT_EQ(g.use_counts().at(conv_out), 0);
  EXPECT_EQ(g.use_counts().at(other), 1);
}

TEST(Graph, RecordsWithOtherThanOneInputAreRefused) {
  torch::jit::Graph traced;
  traced.addInput();
  traced.addInput();
  traced.registerOutput(traced.inputs()[0]);
  try {
    from_trace(traced);
    FAIL() << "two inputs accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("2 inputs"), std::string::npos) << e.what();
  }
}

TEST(GraphRunner, RefusesAGraphThatReadsAValueBeforeItIsWritten) {
  testing::ConvBnNet model;
  Graph g = from_trace(*models::trace_graph(model, torch::randn({1, 3, 8, 8})));
  g.nodes.front().inputs[0] = g.add_value();  // written by nothing
  EXPECT_THROW(GraphRunner(std::move(g)), Error);
}

}  // namespace
}  // namespace ptinfer::fastpath::graph
