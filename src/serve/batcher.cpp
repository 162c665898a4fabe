#include "serve/batcher.h"

#include <c10/util/Exception.h>

#include "common/error.h"

namespace ptinfer::serve {

using Clock = std::chrono::steady_clock;

struct Batcher::Request {
  torch::Tensor input;
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
  if (inputs.size() > static_cast<size_t>(options_.queue_size)) {
    throw Error(ErrorKind::kInvalidArgument,
                "model '" + name_ + "': " + std::to_string(inputs.size()) +
                    " samples in one request, more than the queue holds (" +
                    std::to_string(options_.queue_size) + ")");
  }
  const auto now = Clock::now();
  std::vector<std::shared_ptr<Request>> requests;
  std::vector<std::future<torch::Tensor>> results;
  for (const auto& input : inputs) {
    auto request = std::make_shared<Request>();
    request->input = input;
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
      if (!batch.empty() && next->input.sizes() != batch.front()->input.sizes()) break;
      batch.push_back(std::move(next));
      queue_.pop_front();
    }
    if (batch.empty()) continue;
    lock.unlock();
    run_batch(batch);
    lock.lock();
  }
}

void Batcher::run_batch(std::vector<std::shared_ptr<Request>>& batch) {
  BatchStats stats;
  stats.batch_size = static_cast<int>(batch.size());
  const auto start = Clock::now();
  for (const auto& r : batch) {
    stats.queue_seconds.push_back(std::chrono::duration<double>(start - r->submitted).count());
  }
  try {
    std::vector<torch::Tensor> inputs;
    inputs.reserve(batch.size());
    for (const auto& r : batch) inputs.push_back(r->input);
    torch::Tensor output = runner_(torch::stack(inputs));
    if (output.dim() < 1 || output.size(0) != static_cast<int64_t>(batch.size())) {
      throw Error(ErrorKind::kInternal, "model '" + name_ + "' returned " +
                                            std::to_string(output.dim() ? output.size(0) : 0) +
                                            " rows for a batch of " + std::to_string(batch.size()));
    }
    stats.compute_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->promise.set_value(output[i].clone());
  } catch (const Error& e) {
    for (auto& r : batch) r->promise.set_exception(std::current_exception());
  } catch (const c10::Error& e) {
    // Callers see one error type; LibTorch's message without its C++ backtrace.
    auto error = std::make_exception_ptr(
        Error(ErrorKind::kInternal, "model '" + name_ + "': " + e.what_without_backtrace()));
    for (auto& r : batch) r->promise.set_exception(error);
  } catch (const std::exception& e) {
    auto error =
        std::make_exception_ptr(Error(ErrorKind::kInternal, "model '" + name_ + "': " + e.what()));
    for (auto& r : batch) r->promise.set_exception(error);
  }
  if (observer_) observer_(stats);
}

}  // namespace ptinfer::serve
