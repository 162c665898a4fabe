// Bounded connections and threads for cpp-httplib 0.11's server.
//
// httplib's own ThreadPool has a fixed number of threads but an unbounded list of accepted
// connections waiting for one, so a flood of idle clients grows memory and file descriptors
// without limit. BoundedTaskQueue (installed through httplib::Server::new_task_queue) keeps the
// fixed threads and bounds the connections accepted and not yet closed (being served or waiting
// for a thread) to max_connections. httplib 0.11's TaskQueue::enqueue returns void and the
// socket lives inside the job, so a connection over the limit cannot be refused there; instead
// enqueue blocks the accept thread until a connection closes, as Go's netutil.LimitListener
// does. Further clients then wait in the kernel's listen backlog (or retry their SYN) instead of
// costing the server anything. Slots free up as connections end, which read, write and
// keep-alive timeouts bound.
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ptinfer::serve {

class BoundedTaskQueue : public httplib::TaskQueue {
 public:
  // Starts `threads` workers (>= 1), each running `on_thread_start` (if set) before its first
  // job. `max_connections` (>= threads) bounds the jobs enqueued and not yet finished. Throws
  // Error(kInvalidArgument) otherwise.
  BoundedTaskQueue(size_t threads, size_t max_connections,
                   std::function<void()> on_thread_start = {});
  // shutdown().
  ~BoundedTaskQueue() override;

  // Called by httplib's accept thread with one accepted connection's job. Blocks while
  // max_connections jobs are unfinished, unless stop_limiting() was called.
  void enqueue(std::function<void()> fn) override;

  // Runs every job already enqueued, then joins the workers. Idempotent.
  void shutdown() override;

  // From now on enqueue never blocks: lets the accept thread see httplib's stop() at once.
  void stop_limiting();

  size_t active() const;   // jobs running on a worker
  size_t pending() const;  // jobs waiting for a worker

 private:
  void work(const std::function<void()>& on_thread_start);

  const size_t max_connections_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;  // a job arrived, or shutdown
  std::condition_variable room_cv_;  // a job finished, or limiting stopped
  std::deque<std::function<void()>> jobs_;  // guarded by mutex_
  size_t active_ = 0;                       // guarded by mutex_
  bool limiting_ = true;                    // guarded by mutex_
  bool shutdown_ = false;                   // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace ptinfer::serve
