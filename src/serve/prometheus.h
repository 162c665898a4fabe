// The server's metrics in Prometheus' text exposition format (version 0.0.4): request counts by
// model and status, latency histograms (end to end, queue, compute), the batch-size histogram,
// runner calls and the queue depth per model, and whether each model is ready (loaded and warmed
// up) with its warm-up calls and time.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "serve/batcher.h"

namespace ptinfer::serve {

// A cumulative histogram with fixed upper bounds (Prometheus "le" buckets, +Inf implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Appends NAME_bucket{LABELS,le="..."}, NAME_sum{LABELS} and NAME_count{LABELS} lines.
  void render(const std::string& name, const std::string& labels, std::string& out) const;
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bound, not cumulative
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Thread-safe: every method takes the one mutex. Model names are label values; the server only
// admits names of [A-Za-z0-9_.-], so they need no escaping.
class ServeMetrics {
 public:
  // One finished HTTP request for `model` answered with `status`, taking `seconds` end to end.
  void observe_request(const std::string& model, int status, double seconds);
  // One runner call of `model`'s batcher.
  void observe_batch(const std::string& model, const BatchStats& stats);
  // Whether `model` is loaded and warmed up (ptinfer_model_ready 0/1).
  void set_model_ready(const std::string& model, bool ready);
  // `model`'s warm-up: `calls` model calls (one per batch size) taking `seconds` in all.
  void observe_warmup(const std::string& model, int calls, double seconds);
  // The exposition text; `queue_depths` gives the ptinfer_queue_depth gauge per model.
  std::string render(const std::map<std::string, size_t>& queue_depths) const;

 private:
  struct ModelMetrics {
    std::map<int, uint64_t> requests;  // by HTTP status
    Histogram request;                 // end to end, seconds
    Histogram queue;                   // submission to batch start, seconds
    Histogram compute;                 // model call, seconds
    Histogram batch_size;
    bool ready = false;
    int warmup_calls = 0;
    double warmup_seconds = 0;
    ModelMetrics();
  };
  ModelMetrics& model(const std::string& name);  // requires mutex_

  mutable std::mutex mutex_;
  std::map<std::string, ModelMetrics> models_;  // guarded by mutex_
};

}  // namespace ptinfer::serve
