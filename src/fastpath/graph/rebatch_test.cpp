#include "fastpath/graph/rebatch.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fastpath/graph/graph_test_models.h"
#include "fastpath/graph/passes.h"
#include "fastpath/graph/runner.h"
#include "models/forward_trace.h"

namespace ptinfer::fastpath::graph {
namespace {

Graph traced(models::ImageClassifier& model, int64_t batch, int64_t side = 17) {
  return from_trace(*models::trace_graph(model, torch::randn({batch, 3, side, side})));
}

// The batch enters the record squared: rows of x repeated N times.
struct SquaredBatchNet : models::ImageClassifier {
  torch::Tensor forward(torch::Tensor x) override {
    const torch::Tensor rows = x.mean({2, 3});  // [N, 3]
    return rows.repeat({x.size(0), 1}).view({x.size(0), -1});  // [N, 3 N]
  }
};

TEST(Rebatch, PredictsTheRecordOfALargerBatch) {
  testing::ActivationNet model;
  const Graph one = traced(model, 1), two = traced(model, 2);
  for (int64_t n : {1, 2, 5}) {
    const std::optional<Graph> predicted = rebatch(one, two, n);
    ASSERT_TRUE(predicted.has_value()) << n;
    EXPECT_TRUE(same_graph(*predicted, traced(model, n))) << n;
  }
  // And it runs: the optimized prediction for 5 gives the plain forward's numbers.
  Graph g = *rebatch(one, two, 5);
  optimize(g);
  const torch::Tensor x = torch::randn({5, 3, 17, 17});
  torch::NoGradGuard no_grad;
  const torch::Tensor y = GraphRunner(std::move(g)).run(x);
  const torch::Tensor ref = model.forward(x);
  EXPECT_LE(((y - ref).norm() / ref.norm()).item<double>(), 1e-5);
}

TEST(Rebatch, RefusesRecordsThatDifferInMoreThanTheBatch) {
  testing::ActivationNet model;
  testing::ConvBnNet other;
  EXPECT_FALSE(rebatch(traced(model, 1), traced(other, 2), 3).has_value());  // other nodes
  EXPECT_FALSE(rebatch(traced(model, 1), traced(model, 2), 0).has_value());
  // A squared batch is extrapolated wrongly, and the check against a real record says so.
  SquaredBatchNet squared;
  const std::optional<Graph> three = rebatch(traced(squared, 1), traced(squared, 2), 3);
  ASSERT_TRUE(three.has_value());
  EXPECT_FALSE(same_graph(*three, traced(squared, 3)));
  EXPECT_TRUE(same_graph(traced(squared, 3), traced(squared, 3)));
}

}  // namespace
}  // namespace ptinfer::fastpath::graph
