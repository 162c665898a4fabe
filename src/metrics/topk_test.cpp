#include "metrics/topk.h"

#include <gtest/gtest.h>

namespace ptinfer::metrics {
namespace {

TEST(TopK, OrdersByLogitAndReportsSoftmaxProbabilities) {
  torch::Tensor logits = torch::tensor({{0.f, 3.f, 1.f, 2.f}, {5.f, -1.f, 0.f, 4.f}});
  TopK t = top_k(logits, 3);
  EXPECT_EQ(t.indices[0], (std::vector<int64_t>{1, 3, 2}));
  EXPECT_EQ(t.indices[1], (std::vector<int64_t>{0, 3, 2}));
  torch::Tensor p = torch::softmax(logits, 1);
  EXPECT_FLOAT_EQ(t.scores[0][0], p[0][1].item<float>());
  EXPECT_FLOAT_EQ(t.scores[1][1], p[1][3].item<float>());
}

TEST(TopK, ClampsKToTheNumberOfClasses) {
  TopK t = top_k(torch::tensor({{1.f, 2.f}}), 5);
  EXPECT_EQ(t.indices[0].size(), 2u);
}

TEST(AccuracyCounts, CountsTop1AndTop5) {
  // Sample 0: target 1 is top-1. Sample 1: target 5 is 5th. Sample 2: target 6 is last (6th).
  torch::Tensor logits = torch::tensor({{0.f, 9.f, 1.f, 2.f, 3.f, 4.f, 5.f},
                                        {6.f, 5.f, 4.f, 3.f, 0.f, 2.f, 1.f},
                                        {6.f, 5.f, 4.f, 3.f, 2.f, 1.f, 0.f}});
  AccuracyCounts counts;
  counts.add(top_k(logits, 5), {1, 5, 6});
  EXPECT_EQ(counts.samples, 3);
  EXPECT_EQ(counts.correct1, 1);
  EXPECT_EQ(counts.correct5, 2);
  EXPECT_NEAR(counts.acc5(), 200.0 / 3, 1e-9);
}

}  // namespace
}  // namespace ptinfer::metrics
