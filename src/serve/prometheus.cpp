#include "serve/prometheus.h"

#include <algorithm>
#include <cstdio>

namespace ptinfer::serve {
namespace {

// Latency buckets from 1 ms to 60 s, roughly x2.5 apart (Prometheus client defaults, widened
// for CPU models that take seconds at large batches).
const std::vector<double> kLatencyBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                            0.5,   1,      2.5,   5,    10,    30,   60};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256};

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size(), 0) {}

void Histogram::observe(double value) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  if (it != bounds_.end()) ++counts_[it - bounds_.begin()];
  sum_ += value;
  ++count_;
}

void Histogram::render(const std::string& name, const std::string& labels, std::string& out) const {
  uint64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{" + labels + sep + "le=\"" + number(bounds_[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{" + labels + sep + "le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum{" + labels + "} " + number(sum_) + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(count_) + "\n";
}

ServeMetrics::ModelMetrics::ModelMetrics()
    : request(kLatencyBounds),
      queue(kLatencyBounds),
      compute(kLatencyBounds),
      batch_size(kBatchBounds) {}

ServeMetrics::ModelMetrics& ServeMetrics::model(const std::string& name) {
  return models_.try_emplace(name).first->second;
}

void ServeMetrics::observe_request(const std::string& name, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ModelMetrics& m = model(name);
  ++m.requests[status];
  m.request.observe(seconds);
}

void ServeMetrics::observe_batch(const std::string& name, const BatchStats& stats) {
  std::lock_guard<std::mutex> lock(mutex_);
  ModelMetrics& m = model(name);
  m.batch_size.observe(stats.batch_size);
  m.compute.observe(stats.compute_seconds);
  for (double q : stats.queue_seconds) m.queue.observe(q);
}

void ServeMetrics::set_model_ready(const std::string& name, bool ready) {
  std::lock_guard<std::mutex> lock(mutex_);
  model(name).ready = ready;
}

void ServeMetrics::observe_warmup(const std::string& name, int calls, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ModelMetrics& m = model(name);
  m.warmup_calls += calls;
  m.warmup_seconds += seconds;
}

std::string ServeMetrics::render(const std::map<std::string, size_t>& queue_depths) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  auto label = [](const std::string& name) { return "model=\"" + name + "\""; };
  header(out, "ptinfer_requests_total", "counter", "HTTP requests answered, by model and status");
  for (const auto& [name, m] : models_) {
    for (const auto& [status, n] : m.requests) {
      out += "ptinfer_requests_total{" + label(name) + ",status=\"" + std::to_string(status) +
             "\"} " + std::to_string(n) + "\n";
    }
  }
  header(out, "ptinfer_model_calls_total", "counter", "Model (runner) calls, one per batch");
  for (const auto& [name, m] : models_) {
    out += "ptinfer_model_calls_total{" + label(name) + "} " +
           std::to_string(m.batch_size.count()) + "\n";
  }
  struct Family {
    const char* name;
    const char* help;
    Histogram ModelMetrics::*histogram;
  };
  const Family families[] = {
      {"ptinfer_request_duration_seconds", "End-to-end request latency", &ModelMetrics::request},
      {"ptinfer_queue_duration_seconds", "Time a request waited for its batch to start",
       &ModelMetrics::queue},
      {"ptinfer_compute_duration_seconds", "Model call time per batch", &ModelMetrics::compute},
      {"ptinfer_batch_size", "Requests per model call", &ModelMetrics::batch_size},
  };
  for (const Family& f : families) {
    header(out, f.name, "histogram", f.help);
    for (const auto& [name, m] : models_) (m.*f.histogram).render(f.name, label(name), out);
  }
  header(out, "ptinfer_queue_depth", "gauge", "Requests waiting in the model's queue");
  for (const auto& [name, depth] : queue_depths) {
    out += "ptinfer_queue_depth{" + label(name) + "} " + std::to_string(depth) + "\n";
  }
  header(out, "ptinfer_model_ready", "gauge", "1 once the model is loaded and warmed up");
  for (const auto& [name, m] : models_) {
    out += "ptinfer_model_ready{" + label(name) + "} " + (m.ready ? "1" : "0") + "\n";
  }
  header(out, "ptinfer_warmup_calls_total", "counter",
         "Model calls made to warm the model up, one per batch size");
  for (const auto& [name, m] : models_) {
    out += "ptinfer_warmup_calls_total{" + label(name) + "} " + std::to_string(m.warmup_calls) +
           "\n";
  }
  header(out, "ptinfer_warmup_seconds", "gauge", "Time the warm-up took");
  for (const auto& [name, m] : models_) {
    out += "ptinfer_warmup_seconds{" + label(name) + "} " + number(m.warmup_seconds) + "\n";
  }
  return out;
}

}  // namespace ptinfer::serve
