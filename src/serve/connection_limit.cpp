#include "serve/connection_limit.h"

#include <spdlog/spdlog.h>

#include <string>

#include "common/error.h"

namespace ptinfer::serve {

BoundedTaskQueue::BoundedTaskQueue(size_t threads, size_t max_connections,
                                   std::function<void()> on_thread_start)
    : max_connections_(max_connections) {
  if (threads < 1 || max_connections < threads) {
    throw Error(ErrorKind::kInvalidArgument,
                "--max-connections (" + std::to_string(max_connections) +
                    ") must be >= --http-threads (" + std::to_string(threads) + ") >= 1");
  }
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, on_thread_start] { work(on_thread_start); });
  }
}

BoundedTaskQueue::~BoundedTaskQueue() { shutdown(); }

void BoundedTaskQueue::enqueue(std::function<void()> fn) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (limiting_ && active_ + jobs_.size() >= max_connections_) {
    spdlog::warn("{} connections open (--max-connections): not accepting until one closes",
                 max_connections_);
    room_cv_.wait(lock, [&] { return !limiting_ || active_ + jobs_.size() < max_connections_; });
  }
  jobs_.push_back(std::move(fn));
  lock.unlock();
  work_cv_.notify_one();
}

void BoundedTaskQueue::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutdown_) return;
    shutdown_ = true;
    limiting_ = false;
  }
  work_cv_.notify_all();
  room_cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void BoundedTaskQueue::stop_limiting() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    limiting_ = false;
  }
  room_cv_.notify_all();
}

size_t BoundedTaskQueue::active() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return active_;
}

size_t BoundedTaskQueue::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return jobs_.size();
}

void BoundedTaskQueue::work(const std::function<void()>& on_thread_start) {
  if (on_thread_start) on_thread_start();
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    work_cv_.wait(lock, [&] { return shutdown_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // shutting down and drained
    std::function<void()> job = std::move(jobs_.front());
    jobs_.pop_front();
    ++active_;
    lock.unlock();
    try {
      job();
    } catch (const std::exception& e) {
      // httplib's job catches handler exceptions itself; this only guards the worker.
      spdlog::error("connection job failed: {}", e.what());
    } catch (...) {
      spdlog::error("connection job failed");
    }
    job = nullptr;  // release what the job holds before counting it finished
    lock.lock();
    --active_;
    room_cv_.notify_one();
  }
}

}  // namespace ptinfer::serve
