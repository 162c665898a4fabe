#include "serve/connection_limit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "common/error.h"

namespace ptinfer::serve {
namespace {

TEST(BoundedTaskQueue, RunsEveryJob) {
  std::atomic<int> ran{0};
  {
    BoundedTaskQueue q(3, 8);
    for (int i = 0; i < 100; ++i) q.enqueue([&] { ++ran; });
    q.shutdown();
  }
  EXPECT_EQ(ran, 100);
}

TEST(BoundedTaskQueue, EnqueueWaitsWhileTheLimitIsReached) {
  // One thread, at most 2 connections: one runs (held by `release`), one waits, the third
  // enqueue must block until the first finishes.
  BoundedTaskQueue q(1, 2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  std::atomic<int> ran{0};
  q.enqueue([&, released] {
    started.set_value();
    released.wait();
    ++ran;
  });
  started.get_future().wait();
  q.enqueue([&] { ++ran; });
  EXPECT_EQ(q.active(), 1u);
  EXPECT_EQ(q.pending(), 1u);
  auto third = std::async(std::launch::async, [&] { q.enqueue([&] { ++ran; }); });
  // Not a timing threshold on the code under test: while the first job is held, the third
  // enqueue cannot return at all; waiting a little only gives a broken queue time to show it.
  EXPECT_EQ(third.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  EXPECT_EQ(q.pending(), 1u);
  release.set_value();
  third.get();
  q.shutdown();
  EXPECT_EQ(ran, 3);
}

TEST(BoundedTaskQueue, StopLimitingReleasesAWaitingEnqueue) {
  BoundedTaskQueue q(1, 1);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  q.enqueue([released] { released.wait(); });
  auto second = std::async(std::launch::async, [&] { q.enqueue([] {}); });
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  q.stop_limiting();
  second.get();  // returns although the first job still runs
  EXPECT_EQ(q.pending() + q.active(), 2u);
  release.set_value();
  q.shutdown();
}

TEST(BoundedTaskQueue, RejectsALimitBelowTheThreads) {
  EXPECT_THROW(BoundedTaskQueue(4, 2), Error);
  EXPECT_THROW(BoundedTaskQueue(0, 2), Error);
}

}  // namespace
}  // namespace ptinfer::serve
