#include "serve/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/error.h"

namespace ptinfer::serve {
namespace {

// A runner that records its calls and returns, per sample, the sum of its input's values.
struct FakeRunner {
  std::atomic<int> calls{0};
  std::atomic<int> largest{0};
  torch::Tensor operator()(const torch::Tensor& batch) {
    ++calls;
    int n = static_cast<int>(batch.size(0));
    int seen = largest.load();
    while (n > seen && !largest.compare_exchange_weak(seen, n)) {
    }
    return batch.flatten(1).sum(1, /*keepdim=*/true);
  }
};

torch::Tensor sample(float value) { return torch::full({3, 2, 2}, value); }

TEST(Batcher, ConcurrentRequestsShareRunnerCallsAndGetTheirOwnRows) {
  FakeRunner fake;
  BatcherOptions o;
  o.max_batch_size = 16;
  o.max_queue_delay_us = 200000;  // long enough that the 16 threads arrive within one window
  o.queue_size = 16;
  std::atomic<int> observed{0};
  Batcher batcher(
      "fake", [&](const torch::Tensor& b) { return fake(b); }, o,
      [&](const BatchStats& s) { observed += s.batch_size; });
  std::vector<std::thread> threads;
  std::vector<float> got(16, -1);
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] { got[i] = batcher.infer(sample(i)).item<float>(); });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 16; ++i) EXPECT_EQ(got[i], 12.0f * i) << "request " << i;
  EXPECT_LT(fake.calls.load(), 16);
  EXPECT_GT(fake.largest.load(), 1);
  EXPECT_EQ(observed.load(), 16);
}

TEST(Batcher, NeverRunsMoreThanMaxBatchSize) {
  FakeRunner fake;
  BatcherOptions o;
  o.max_batch_size = 3;
  o.max_queue_delay_us = 50000;
  Batcher batcher(
      "fake", [&](const torch::Tensor& b) { return fake(b); }, o);
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&, i] { EXPECT_EQ(batcher.infer(sample(i)).item<float>(), 12.0f * i); });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(fake.largest.load(), 3);
  EXPECT_GE(fake.calls.load(), 4);
}

TEST(Batcher, DifferentShapesAreNotStacked) {
  FakeRunner fake;
  BatcherOptions o;
  o.max_batch_size = 8;
  o.max_queue_delay_us = 50000;
  Batcher batcher(
      "fake", [&](const torch::Tensor& b) { return fake(b); }, o);
  std::thread a([&] { EXPECT_EQ(batcher.infer(torch::ones({3, 2, 2})).item<float>(), 12.0f); });
  std::thread b([&] { EXPECT_EQ(batcher.infer(torch::ones({3, 4, 4})).item<float>(), 48.0f); });
  a.join();
  b.join();
  EXPECT_EQ(fake.calls.load(), 2);
}

TEST(Batcher, FullQueueIsOverloaded) {
  BatcherOptions o;
  o.max_batch_size = 8;  // larger than the queue: the batch waits the whole delay
  o.max_queue_delay_us = 300000;
  o.queue_size = 2;
  FakeRunner fake;
  Batcher batcher(
      "fake", [&](const torch::Tensor& b) { return fake(b); }, o);
  std::thread a([&] { batcher.infer(sample(1)); });
  std::thread b([&] { batcher.infer(sample(2)); });
  while (batcher.queue_depth() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  try {
    batcher.infer(sample(3));
    FAIL() << "expected overload";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kOverloaded);
    EXPECT_NE(std::string(e.what()).find("queue full"), std::string::npos) << e.what();
  }
  a.join();
  b.join();
}

TEST(Batcher, RequestPastItsTimeoutGetsAnError) {
  BatcherOptions o;
  o.max_batch_size = 8;
  o.max_queue_delay_us = 2000000;  // the batch would wait 2 s
  o.request_timeout_ms = 50;
  FakeRunner fake;
  Batcher batcher(
      "fake", [&](const torch::Tensor& b) { return fake(b); }, o);
  try {
    batcher.infer(sample(1));
    FAIL() << "expected a timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kOverloaded);
    EXPECT_NE(std::string(e.what()).find("no answer within 50 ms"), std::string::npos);
  }
  batcher.stop();  // the abandoned request is dropped, not run
  EXPECT_EQ(fake.calls.load(), 0);
}

TEST(Batcher, RunnerErrorReachesEveryRequestOfTheBatch) {
  BatcherOptions o;
  o.max_batch_size = 4;
  o.max_queue_delay_us = 100000;
  Batcher batcher(
      "bad", [](const torch::Tensor&) -> torch::Tensor { throw std::runtime_error("boom"); }, o);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      try {
        batcher.infer(sample(0));
      } catch (const Error& e) {
        if (std::string(e.what()) == "model 'bad': boom") ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 3);
}

TEST(Batcher, WrongRowCountIsAnError) {
  Batcher batcher("short", [](const torch::Tensor&) { return torch::zeros({0, 1}); }, {});
  EXPECT_THROW(batcher.infer(sample(0)), Error);
}

TEST(Batcher, StopAnswersQueuedRequestsAndRefusesNewOnes) {
  BatcherOptions o;
  o.max_batch_size = 8;
  o.max_queue_delay_us = 5000000;  // without stop() the batch would wait 5 s
  FakeRunner fake;
  Batcher batcher(
      "fake", [&](const torch::Tensor& b) { return fake(b); }, o);
  float got = -1;
  std::thread a([&] { got = batcher.infer(sample(2)).item<float>(); });
  while (batcher.queue_depth() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  batcher.stop();
  a.join();
  EXPECT_EQ(got, 24.0f);
  EXPECT_THROW(batcher.infer(sample(1)), Error);
}

TEST(Batcher, InferAllKeepsOrderAndNeedsRoomForAll) {
  FakeRunner fake;
  BatcherOptions o;
  o.max_batch_size = 2;
  o.max_queue_delay_us = 0;
  o.queue_size = 3;
  Batcher batcher("fake", [&](const torch::Tensor& b) { return fake(b); }, o);
  std::vector<torch::Tensor> rows = batcher.infer_all({sample(1), sample(2), sample(3)});
  ASSERT_EQ(rows.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rows[i].item<float>(), 12.0f * (i + 1));
  EXPECT_EQ(fake.calls.load(), 2);  // batches of 2 and 1
  try {
    batcher.infer_all({sample(1), sample(2), sample(3), sample(4)});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("4 samples in one request"), std::string::npos);
  }
}

// Deferred samples are filled on the batch thread into their rows; one whose fill throws gets
// its own error and leaves the batch, and the others are still answered from one runner call.
TEST(Batcher, DeferredSamplesAreFilledAndAFailedFillFailsOnlyItsRequest) {
  FakeRunner fake;
  BatcherOptions o;
  o.max_batch_size = 4;
  o.max_queue_delay_us = 0;
  std::atomic<int> observed_batch{0};
  Batcher batcher(
      "fake", [&](const torch::Tensor& b) { return fake(b); }, o,
      [&](const BatchStats& s) { observed_batch = s.batch_size; });
  auto filled = [](float value) {
    return Sample::deferred({3, 2, 2}, torch::kFloat32, [value](torch::Tensor& row) {
      ASSERT_TRUE(row.is_contiguous());
      row.fill_(value);
    });
  };
  std::vector<Sample> samples;
  samples.push_back(filled(1));
  samples.push_back(Sample::deferred({3, 2, 2}, torch::kFloat32, [](torch::Tensor&) {
    throw Error(ErrorKind::kCorruptData, "image 2: not a JPEG");
  }));
  samples.push_back(Sample::ready(sample(3)));
  samples.push_back(filled(4));
  try {
    batcher.infer_samples(std::move(samples));
    FAIL() << "expected the second sample's error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorruptData);
    EXPECT_NE(std::string(e.what()).find("image 2: not a JPEG"), std::string::npos);
  }
  EXPECT_EQ(fake.calls.load(), 1);
  EXPECT_EQ(fake.largest.load(), 3);  // the three good samples, in one call
  EXPECT_EQ(observed_batch.load(), 3);

  // Without the failing one, every row comes back in order.
  std::vector<Sample> good;
  for (float v : {5.0f, 6.0f}) good.push_back(filled(v));
  good.push_back(Sample::ready(sample(7)));
  std::vector<torch::Tensor> rows = batcher.infer_samples(std::move(good));
  ASSERT_EQ(rows.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rows[i].item<float>(), 12.0f * (5 + i));
}

// A fill that throws something other than ptinfer::Error reaches the caller as kInternal.
TEST(Batcher, ForeignFillErrorsBecomeInternalErrors) {
  Batcher batcher("fake", [](const torch::Tensor& b) { return b.flatten(1).sum(1); }, {});
  std::vector<Sample> samples;
  samples.push_back(Sample::deferred({2}, torch::kFloat32, [](torch::Tensor&) {
    throw std::runtime_error("disk on fire");
  }));
  try {
    batcher.infer_samples(std::move(samples));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("model 'fake': disk on fire"), std::string::npos);
  }
}

TEST(Batcher, InvalidOptionsAreRejected) {
  BatcherOptions o;
  o.max_batch_size = 0;
  EXPECT_THROW(Batcher(
                   "m", [](const torch::Tensor& b) { return b; }, o),
               Error);
}

}  // namespace
}  // namespace ptinfer::serve
