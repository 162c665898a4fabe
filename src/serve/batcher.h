// The dynamic batcher, in the spirit of Triton's: requests for one model wait in a bounded queue;
// one batch thread takes up to max_batch_size of them (waiting at most max_queue_delay_us after
// the oldest arrived for the batch to fill), stacks their [3, H, W] inputs, calls the runner
// once and hands each request its row of the output.
//
// Ownership and locking: the Batcher owns its queue and its batch thread. mutex_ guards queue_
// and stopping_; cv_ wakes the batch thread (new request, stop). A request is shared between the
// caller waiting in infer() and the queue/batch thread (shared_ptr); its promise is fulfilled by
// the batch thread only, outside the lock. The runner is called from the batch thread only, so a
// thread-compatible Engine needs no further locking.
#pragma once

#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ptinfer::serve {

struct BatcherOptions {
  int max_batch_size = 8;              // most requests per runner call (>= 1)
  int64_t max_queue_delay_us = 2000;   // longest wait for a batch to fill after its oldest request
  int queue_size = 64;                 // most requests waiting; more is Error(kOverloaded)
  int64_t request_timeout_ms = 30000;  // a request not answered by then gets an error
};

// One sample for the batcher: a ready tensor, or its shape and dtype plus a function that writes
// it into its row of the batch. Deferred samples are filled on the batch thread just before the
// runner call, the batch's rows in parallel on the intra-op threads: image decoding then takes
// turns with the model on the same cores instead of preempting its threads mid-call.
struct Sample {
  torch::Tensor tensor;  // a ready sample, or undefined for a deferred one
  std::vector<int64_t> shape;
  torch::ScalarType dtype = torch::kFloat32;
  // Writes the sample into `row` (contiguous, `shape`, `dtype`). May throw: only this sample's
  // request then fails, with that error (a ptinfer::Error keeps its kind).
  std::function<void(torch::Tensor& row)> fill;

  static Sample ready(torch::Tensor tensor);
  static Sample deferred(std::vector<int64_t> shape, torch::ScalarType dtype,
                         std::function<void(torch::Tensor& row)> fill);
};

// What one runner call did, for metrics (called on the batch thread after the call, before its
// requests are answered).
struct BatchStats {
  int batch_size = 0;
  double prepare_seconds = 0;         // filling the deferred samples' rows
  double compute_seconds = 0;         // the runner call
  std::vector<double> queue_seconds;  // per request: from submission to the start of the call
};

// [N, ...] batch -> [N, ...] output. May throw; every request of the batch then gets the error.
using BatchRunner = std::function<torch::Tensor(const torch::Tensor& batch)>;
using BatchObserver = std::function<void(const BatchStats& stats)>;

class Batcher {
 public:
  // Starts the batch thread. Throws Error(kInvalidArgument) for a max_batch_size, queue_size or
  // request_timeout_ms < 1 or a negative delay. `name` (the model) starts every error message.
  Batcher(std::string name, BatchRunner runner, const BatcherOptions& options,
          BatchObserver observer = {});
  // stop().
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `input` (one sample, without the batch dimension), blocks until the batch thread has
  // run it and returns its output row. Inputs of different shapes are never stacked together.
  // Throws Error(kOverloaded) when the queue is full, the batcher is stopping, or no answer came
  // within request_timeout_ms; the runner's error (as ptinfer::Error) when its batch failed.
  // Thread-safe.
  torch::Tensor infer(const torch::Tensor& input);

  // As infer() for several samples of one request: all are queued together or none is (the
  // queue must have room for all), and the rows come back in order. Throws
  // Error(kInvalidArgument) when there are more samples than queue_size.
  std::vector<torch::Tensor> infer_all(const std::vector<torch::Tensor>& inputs);

  // As infer_all() for samples that may be deferred (see Sample); a deferred sample whose fill
  // throws gets that error and does not take a row of the runner call.
  std::vector<torch::Tensor> infer_samples(std::vector<Sample> samples);

  // Refuses new requests, answers every queued one (without waiting for batches to fill) and
  // joins the batch thread. Idempotent.
  void stop();

  // Requests waiting in the queue now.
  size_t queue_depth() const;

 private:
  struct Request;
  void batch_loop();
  void run_batch(std::vector<std::shared_ptr<Request>>& batch);

  const std::string name_;
  const BatchRunner runner_;
  const BatcherOptions options_;
  const BatchObserver observer_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Request>> queue_;  // guarded by mutex_
  bool stopping_ = false;                       // guarded by mutex_
  std::thread thread_;
};

}  // namespace ptinfer::serve
