#include "serve/batcher.h"

#include <c10/util/Exception.h>

#include "common/error.h"

namespace ptinfer::serve {

using Clock = std::chrono::steady_clock;

Sample Sample::ready(torch::Tensor tensor) {
  Sample s;
  s.shape = tensor.sizes().vec();
  s.dtype = tensor.scalar_type();
  s.tensor = std::move(tensor);
  return s;
}

Sample Sample::deferred(std::vector<int64_t> shape, torch::ScalarType dtype,
                        std::function<void(torch::Tensor& row)> fill) {
  Sample s;
  s.shape = std::move(shape);
  s.dtype = dtype;
  s.fill = std::move(fill);
  return s;
}

struct Batcher::Request {
  Sample input;
  std::promise<torch::Tensor> promise;
  Clock::time_point submitted;
  // Set by the caller when it gave up waiting; the batch thread then drops the request.
  std::atomic<bool> abandoned{false};
};

Batcher::Batcher(std::string name, BatchRunner runner, const BatcherOptions& options,
                 BatchObserver observer)
    : name_(std::move(name)),
      runner_(std::move(runner)),
      options_(options),
      observer_(std::move(observer)) {
  if (options_.max_batch_size < 1 || options_.queue_size < 1 || options_.request_timeout_ms < 1 ||
      options_.max_queue_delay_us < 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "model '" + name_ +
                    "': max batch size, queue size and request timeout must be >= 1 and the "
                    "queue delay >= 0");
  }
  thread_ = std::thread([this] { batch_loop(); });
}

Batcher::~Batcher() { stop(); }

void Batcher::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

size_t Batcher::queue_depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

torch::Tensor Batcher::infer(const torch::Tensor& input) { return infer_all({input}).at(0); }

std::vector<torch::Tensor> Batcher::infer_all(const std::vector<torch::Tensor>& inputs) {
  std::vector<Sample> samples;
  samples.reserve(inputs.size());
  for (const auto& input : inputs) samples.push_back(Sample::ready(input));
  return infer_samples(std::move(samples));
}

std::vector<torch::Tensor> Batcher::infer_samples(std::vector<Sample> inputs) {
  if (inputs.size() > static_cast<size_t>(options_.queue_size)) {
    throw Error(ErrorKind::kInvalidArgument,
                "model '" + name_ + "': " + std::to_string(inputs.size()) +
                    " samples in one request, more than the queue holds (" +
                    std::to_string(options_.queue_size) + ")");
  }
  const auto now = Clock::now();
  std::vector<std::shared_ptr<Request>> requests;
  std::vector<std::future<torch::Tensor>> results;
  for (auto& input : inputs) {
    auto request = std::make_shared<Request>();
    request->input = std::move(input);
    request->submitted = now;
    results.push_back(request->promise.get_future());
    requests.push_back(std::move(request));
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
      throw Error(ErrorKind::kOverloaded, "model '" + name_ + "' is shutting down");
    }
    if (queue_.size() + requests.size() > static_cast<size_t>(options_.queue_size)) {
      throw Error(ErrorKind::kOverloaded, "model '" + name_ + "': queue full (" +
                                              std::to_string(options_.queue_size) + " requests)");
    }
    queue_.insert(queue_.end(), requests.begin(), requests.end());
  }
  cv_.notify_one();
  const auto deadline = now + std::chrono::milliseconds(options_.request_timeout_ms);
  std::vector<torch::Tensor> outputs;
  for (size_t i = 0; i < results.size(); ++i) {
    if (results[i].wait_until(deadline) != std::future_status::ready) {
      for (auto& r : requests) r->abandoned = true;
      throw Error(ErrorKind::kOverloaded, "model '" + name_ + "': no answer within " +
                                              std::to_string(options_.request_timeout_ms) + " ms");
    }
    outputs.push_back(results[i].get());  // rethrows the batch's error
  }
  return outputs;
}

void Batcher::batch_loop() {
  const auto delay = std::chrono::microseconds(options_.max_queue_delay_us);
  const size_t max_batch = static_cast<size_t>(options_.max_batch_size);
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping and drained
    // Let the batch fill until it is full or the oldest request has waited `delay`; when
    // stopping, answer what is there at once.
    const auto fill_deadline = queue_.front()->submitted + delay;
    while (!stopping_ && queue_.size() < max_batch && Clock::now() < fill_deadline) {
      cv_.wait_until(lock, fill_deadline);
    }
    std::vector<std::shared_ptr<Request>> batch;
    while (!queue_.empty() && batch.size() < max_batch) {
      std::shared_ptr<Request>& next = queue_.front();
      if (next->abandoned) {
        queue_.pop_front();
        continue;
      }
      // Only same-shaped inputs stack; the next batch starts with the other shape.
      if (!batch.empty() && (next->input.shape != batch.front()->input.shape ||
                             next->input.dtype != batch.front()->input.dtype)) {
        break;
      }
      batch.push_back(std::move(next));
      queue_.pop_front();
    }
    if (batch.empty()) continue;
    lock.unlock();
    run_batch(batch);
    lock.lock();
  }
}

namespace {

// The error a request gets for an exception thrown while serving it, as ptinfer::Error.
std::exception_ptr as_ptinfer_error(const std::string& model) {
  try {
    throw;
  } catch (const Error&) {
    return std::current_exception();
  } catch (const c10::Error& e) {
    // Callers see one error type; LibTorch's message without its C++ backtrace.
    return std::make_exception_ptr(
        Error(ErrorKind::kInternal, "model '" + model + "': " + e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return std::make_exception_ptr(Error(ErrorKind::kInternal, "model '" + model + "': " + e.what()));
  }
}

}  // namespace

void Batcher::run_batch(std::vector<std::shared_ptr<Request>>& batch) {
  BatchStats stats;
  const auto start = Clock::now();
  // Every row written in place: ready samples copied, deferred ones filled (in parallel when
  // there are several: decoding JPEGs on the intra-op threads, between model calls).
  const int64_t n = static_cast<int64_t>(batch.size());
  std::vector<int64_t> dims = {n};
  dims.insert(dims.end(), batch.front()->input.shape.begin(), batch.front()->input.shape.end());
  std::vector<std::exception_ptr> errors(batch.size());
  torch::Tensor inputs;
  try {
    inputs = torch::empty(dims, torch::TensorOptions().dtype(batch.front()->input.dtype));
    auto fill_rows = [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        try {
          torch::Tensor row = inputs[i];
          const Sample& s = batch[i]->input;
          if (s.fill) {
            s.fill(row);
          } else {
            row.copy_(s.tensor);
          }
        } catch (...) {
          errors[i] = as_ptinfer_error(name_);
        }
      }
    };
    bool any_deferred = false;
    for (const auto& r : batch) any_deferred = any_deferred || static_cast<bool>(r->input.fill);
    if (any_deferred && n > 1) {
      at::parallel_for(0, n, 1, fill_rows);
    } else {
      fill_rows(0, n);
    }
  } catch (...) {
    auto error = as_ptinfer_error(name_);
    for (auto& r : batch) r->promise.set_exception(error);
    return;
  }
  stats.prepare_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  // A sample that failed to fill answers its request with the error and leaves the batch.
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < n; ++i) {
    if (errors[i]) {
      batch[i]->promise.set_exception(errors[i]);
    } else {
      kept.push_back(i);
    }
  }
  if (kept.empty()) return;
  if (static_cast<int64_t>(kept.size()) < n) {
    inputs = inputs.index_select(0, torch::tensor(kept, torch::kLong));
    std::vector<std::shared_ptr<Request>> rest;
    for (int64_t i : kept) rest.push_back(batch[i]);
    batch.swap(rest);
  }
  stats.batch_size = static_cast<int>(batch.size());
  for (const auto& r : batch) {
    stats.queue_seconds.push_back(std::chrono::duration<double>(start - r->submitted).count());
  }
  const auto compute_start = Clock::now();
  std::vector<torch::Tensor> rows;
  std::exception_ptr error;
  try {
    torch::Tensor output = runner_(inputs);
    if (output.dim() < 1 || output.size(0) != static_cast<int64_t>(batch.size())) {
      throw Error(ErrorKind::kInternal, "model '" + name_ + "' returned " +
                                            std::to_string(output.dim() ? output.size(0) : 0) +
                                            " rows for a batch of " + std::to_string(batch.size()));
    }
    rows.reserve(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) rows.push_back(output[i].clone());
  } catch (...) {
    error = as_ptinfer_error(name_);
  }
  stats.compute_seconds = std::chrono::duration<double>(Clock::now() - compute_start).count();
  // Observed before anyone is answered, so that a client holding its answer finds the batch in
  // the metrics.
  if (observer_) observer_(stats);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (error) {
      batch[i]->promise.set_exception(error);
    } else {
      batch[i]->promise.set_value(std::move(rows[i]));
    }
  }
}

}  // namespace ptinfer::serve
