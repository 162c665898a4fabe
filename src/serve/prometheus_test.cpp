#include "serve/prometheus.h"

#include <gtest/gtest.h>

namespace ptinfer::serve {
namespace {

bool contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(Histogram, BucketsAreCumulative) {
  Histogram h({1, 2, 4});
  h.observe(0.5);
  h.observe(2);
  h.observe(3);
  h.observe(100);
  std::string out;
  h.render("x", "m=\"a\"", out);
  EXPECT_TRUE(contains(out, "x_bucket{m=\"a\",le=\"1\"} 1\n")) << out;
  EXPECT_TRUE(contains(out, "x_bucket{m=\"a\",le=\"2\"} 2\n")) << out;
  EXPECT_TRUE(contains(out, "x_bucket{m=\"a\",le=\"4\"} 3\n")) << out;
  EXPECT_TRUE(contains(out, "x_bucket{m=\"a\",le=\"+Inf\"} 4\n")) << out;
  EXPECT_TRUE(contains(out, "x_sum{m=\"a\"} 105.5\n")) << out;
  EXPECT_TRUE(contains(out, "x_count{m=\"a\"} 4\n")) << out;
}

TEST(ServeMetrics, RendersRequestsBatchesAndQueueDepth) {
  ServeMetrics m;
  m.observe_request("r18", 200, 0.01);
  m.observe_request("r18", 200, 0.02);
  m.observe_request("r18", 503, 0.001);
  BatchStats s;
  s.batch_size = 2;
  s.compute_seconds = 0.005;
  s.queue_seconds = {0.001, 0.002};
  m.observe_batch("r18", s);
  std::string out = m.render({{"r18", 3}});
  EXPECT_TRUE(contains(out, "ptinfer_requests_total{model=\"r18\",status=\"200\"} 2\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_requests_total{model=\"r18\",status=\"503\"} 1\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_model_calls_total{model=\"r18\"} 1\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_batch_size_bucket{model=\"r18\",le=\"2\"} 1\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_queue_duration_seconds_count{model=\"r18\"} 2\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_request_duration_seconds_count{model=\"r18\"} 3\n")) << out;
  EXPECT_TRUE(contains(out, "# TYPE ptinfer_batch_size histogram\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_queue_depth{model=\"r18\"} 3\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_model_ready{model=\"r18\"} 0\n")) << out;
}

TEST(ServeMetrics, ReadinessAndWarmup) {
  ServeMetrics m;
  m.set_model_ready("a", false);
  m.set_model_ready("b", false);
  m.observe_warmup("b", 4, 0.5);
  m.set_model_ready("b", true);
  std::string out = m.render({});
  EXPECT_TRUE(contains(out, "ptinfer_model_ready{model=\"a\"} 0\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_model_ready{model=\"b\"} 1\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_warmup_calls_total{model=\"a\"} 0\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_warmup_calls_total{model=\"b\"} 4\n")) << out;
  EXPECT_TRUE(contains(out, "ptinfer_warmup_seconds{model=\"b\"} 0.5\n")) << out;
}

}  // namespace
}  // namespace ptinfer::serve
