#include "app/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <ostream>

#include <nlohmann/json.hpp>

#include "app/process_stats.h"
#include "common/error.h"
#include "fastpath/graph/profile.h"
#include "metrics/meters.h"

namespace ptinfer::app {
namespace {

using Clock = std::chrono::steady_clock;

void check(const BenchOptions& o) {
  if (o.batch_sizes.empty()) throw Error(ErrorKind::kInvalidArgument, "--batch-size: none given");
  for (int b : o.batch_sizes) {
    if (b < 1) {
      throw Error(ErrorKind::kInvalidArgument, "--batch-size must be >= 1, got " + std::to_string(b));
    }
  }
  if (o.iters < 1) throw Error(ErrorKind::kInvalidArgument, "--iters must be >= 1");
  if (o.warmup < 0) throw Error(ErrorKind::kInvalidArgument, "--warmup must be >= 0");
  if (o.image_size < 1) throw Error(ErrorKind::kInvalidArgument, "--crop-size must be >= 1");
  if (!(o.seconds >= 0)) throw Error(ErrorKind::kInvalidArgument, "--seconds must be >= 0");
}

// The time per node kind of one batch size's timed calls, against their wall time.
void print_profile(const BenchRow& row, double wall_seconds, std::ostream& out) {
  if (row.profile.empty()) {
    out << "  profile: no graph ran (the plain module, or the ResNet runner)" << std::endl;
    return;
  }
  double graph_seconds = 0;
  for (const auto& t : row.profile) graph_seconds += t.seconds;
  out << "  profile, batch " << row.batch_size << " (ms per call, share of the graph's time):"
      << std::endl;
  for (const auto& t : row.profile) {
    out << "    " << metrics::format_fixed(1000.0 * t.seconds / row.calls, 8, 2) << " ms "
        << metrics::format_fixed(100.0 * t.seconds / graph_seconds, 5, 1) << "%  "
        << t.kind << " x" << t.calls / row.calls << std::endl;
  }
  out << "    graph " << metrics::format_fixed(1000.0 * graph_seconds / row.calls, 0, 2)
      << " ms of " << metrics::format_fixed(1000.0 * wall_seconds / row.calls, 0, 2)
      << " ms per call" << std::endl;
}

}  // namespace

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(q / 100.0 * values.size()));
  return values[std::min(values.size(), std::max<size_t>(rank, 1)) - 1];
}

BenchResult run_bench(const BenchOptions& options, std::ostream& out) {
  check(options);
  engine::Engine engine(options.engine);
  BenchResult result;
  result.threads = torch::get_num_threads();
  torch::manual_seed(0);
  bool first = true;
  for (int batch_size : options.batch_sizes) {
    torch::Tensor input =
        torch::randn({batch_size, 3, options.image_size, options.image_size}, torch::kFloat32);
    for (int i = 0; i < options.warmup || first; ++i) {
      engine.run(input);
      if (first) {
        result.seconds_to_first_prediction = seconds_since_process_start();
        first = false;
        if (options.warmup == 0) break;
      }
    }
    std::vector<double> latencies_ms;
    fastpath::graph::reset_node_times();
    fastpath::graph::set_profiling(options.profile);
    Clock::time_point start = Clock::now();
    double elapsed = 0;
    while (static_cast<int>(latencies_ms.size()) < options.iters || elapsed < options.seconds) {
      Clock::time_point t = Clock::now();
      engine.run(input);
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
      elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    }
    fastpath::graph::set_profiling(false);
    BenchRow row;
    row.batch_size = batch_size;
    row.calls = static_cast<int>(latencies_ms.size());
    double total_ms = 0;
    for (double ms : latencies_ms) total_ms += ms;
    row.mean_ms = total_ms / row.calls;
    row.images_per_second = 1000.0 * batch_size * row.calls / total_ms;
    row.p50_ms = percentile(latencies_ms, 50);
    row.p90_ms = percentile(latencies_ms, 90);
    row.p99_ms = percentile(latencies_ms, 99);
    out << options.engine.arch << " batch " << batch_size << ": "
        << metrics::format_fixed(row.images_per_second, 0, 2) << " img/s, latency mean "
        << metrics::format_fixed(row.mean_ms, 0, 1) << " ms, p50 "
        << metrics::format_fixed(row.p50_ms, 0, 1) << " ms, p90 "
        << metrics::format_fixed(row.p90_ms, 0, 1) << " ms, p99 "
        << metrics::format_fixed(row.p99_ms, 0, 1) << " ms (" << row.calls << " calls)"
        << std::endl;
    if (options.profile) {
      row.profile = fastpath::graph::node_times();
      print_profile(row, total_ms / 1000.0, out);
    }
    result.rows.push_back(row);
  }
  result.peak_rss_mib = peak_rss_mib();
  out << "time to first prediction " << metrics::format_fixed(result.seconds_to_first_prediction, 0, 2)
      << " s, peak RSS " << metrics::format_fixed(result.peak_rss_mib, 0, 0) << " MiB, "
      << result.threads << " intra-op threads, " << engine.device().str() << std::endl;

  if (!options.json_path.empty()) {
    nlohmann::json j;
    j["arch"] = options.engine.arch;
    j["device"] = engine.device().str();
    j["amp"] = amp::to_string(options.engine.amp.level);
    j["image_size"] = options.image_size;
    j["threads"] = result.threads;
    j["seconds_to_first_prediction"] = result.seconds_to_first_prediction;
    j["peak_rss_mib"] = result.peak_rss_mib;
    for (const auto& r : result.rows) {
      j["rows"].push_back({{"batch_size", r.batch_size},
                           {"calls", r.calls},
                           {"images_per_second", r.images_per_second},
                           {"mean_ms", r.mean_ms},
                           {"p50_ms", r.p50_ms},
                           {"p90_ms", r.p90_ms},
                           {"p99_ms", r.p99_ms}});
      if (options.profile) {
        nlohmann::json& row = j["rows"].back();
        row["profile"] = nlohmann::json::array();
        for (const auto& t : r.profile) {
          row["profile"].push_back(
              {{"kind", t.kind}, {"calls", t.calls}, {"seconds", t.seconds}});
        }
      }
    }
    std::ofstream json(options.json_path);
    json << j.dump(2) << "\n";
    if (!json) {
      throw Error(ErrorKind::kInvalidArgument, "--json: cannot write '" + options.json_path + "'");
    }
  }
  return result;
}

}  // namespace ptinfer::app
