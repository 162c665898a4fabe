// `ptinfer bench`: latency and throughput of the Engine alone (no image decoding) on random
// input, per batch size, plus time to first prediction and peak RSS.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "fastpath/graph/profile.h"

namespace ptinfer::app {

struct BenchOptions {
  engine::EngineOptions engine;
  std::vector<int> batch_sizes = {1, 32};  // each measured in turn
  int image_size = 224;                    // input is [N, 3, image_size, image_size]
  int warmup = 3;                          // untimed calls per batch size (>= 0)
  int iters = 10;                          // timed calls per batch size (>= 1)
  double seconds = 0;                      // > 0: keep timing until this long has passed too
  std::string json_path;                   // --json FILE
  bool profile = false;  // --profile: time per node kind of the general graph's timed calls,
                         // printed after each batch size and in the JSON ("profile")
};

struct BenchRow {
  int batch_size = 0;
  int calls = 0;
  double images_per_second = 0;
  double mean_ms = 0, p50_ms = 0, p90_ms = 0, p99_ms = 0;  // latency of one call
  std::vector<fastpath::graph::NodeTime> profile;  // with --profile, over the timed calls
};

struct BenchResult {
  std::vector<BenchRow> rows;
  double seconds_to_first_prediction = 0;  // process start -> first logits
  double peak_rss_mib = 0;
  int threads = 0;
};

// Runs the benchmark, printing one line per batch size to `out`. Throws Error(kInvalidArgument)
// for a batch size < 1, iters < 1, warmup < 0 or image_size < 1, and whatever the Engine throws.
BenchResult run_bench(const BenchOptions& options, std::ostream& out);

// The nearest-rank percentile q (0..100) of `values` (need not be sorted; empty -> 0).
double percentile(std::vector<double> values, double q);

}  // namespace ptinfer::app
