// BatchLoader with a fake load function: each sample "s<i>" becomes the floats i*10 + k, and
// loads sleep a little at random so workers finish out of order.
#include "data/batch_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"

namespace ptinfer::data {
namespace {

constexpr size_t kFloats = 3;

std::vector<Sample> make_samples(int n) {
  std::vector<Sample> samples;
  for (int i = 0; i < n; ++i) samples.push_back(Sample{"s" + std::to_string(i), i % 5});
  return samples;
}

int index_of(const std::string& path) { return std::stoi(path.substr(1)); }

void random_sleep() {
  thread_local std::mt19937 rng(std::hash<std::thread::id>()(std::this_thread::get_id()));
  std::this_thread::sleep_for(std::chrono::microseconds(rng() % 300));
}

void fake_load(const std::string& path, float* out) {
  random_sleep();
  const int i = index_of(path);
  for (size_t k = 0; k < kFloats; ++k) out[k] = static_cast<float>(i * 10 + static_cast<int>(k));
}

// fake_load that also counts its calls in `loads`.
SampleLoadFn counting_fake_load(std::atomic<int>& loads) {
  return [&loads](const std::string& path, float* out) {
    ++loads;
    fake_load(path, out);
  };
}

// Waits up to 2 s for `loads` to reach `n` (workers start and load asynchronously).
void wait_for_loads(const std::atomic<int>& loads, int n) {
  for (int wait = 0; wait < 200 && loads.load() < n; ++wait) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// Checks that `batch` holds exactly the samples `ids` (by index), in that order.
void expect_batch_holds(const Batch& batch, const std::vector<int>& ids) {
  ASSERT_EQ(batch.size(), static_cast<int64_t>(ids.size()));
  ASSERT_EQ(batch.data.size(), ids.size() * kFloats);
  ASSERT_EQ(batch.paths.size(), ids.size());
  for (size_t s = 0; s < ids.size(); ++s) {
    EXPECT_EQ(batch.paths[s], "s" + std::to_string(ids[s]));
    EXPECT_EQ(batch.labels[s], ids[s] % 5);
    for (size_t k = 0; k < kFloats; ++k) {
      EXPECT_EQ(batch.data[s * kFloats + k], static_cast<float>(ids[s] * 10 + static_cast<int>(k)));
    }
  }
}

// Every batch of the loader, in order; the sample order is read from the paths.
std::vector<int> read_all(BatchLoader& loader, int batch_size, int n) {
  std::vector<int> order;
  int64_t expected_index = 0;
  while (std::optional<Batch> batch = loader.next()) {
    EXPECT_EQ(batch->index, expected_index++);
    const int64_t expected_size = std::min<int64_t>(batch_size, n - batch->index * batch_size);
    EXPECT_EQ(batch->size(), expected_size);
    std::vector<int> ids;
    for (const std::string& p : batch->paths) ids.push_back(index_of(p));
    expect_batch_holds(*batch, ids);
    order.insert(order.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(expected_index, loader.num_batches());
  return order;
}

TEST(BatchLoader, OrderIsSequentialForAnyWorkerCount) {
  const int n = 103;
  std::vector<int> identity(n);
  std::iota(identity.begin(), identity.end(), 0);
  for (int workers = 1; workers <= 4; ++workers) {
    for (int prefetch : {0, 1, 3}) {
      BatchLoaderOptions options;
      options.batch_size = 8;
      options.workers = workers;
      options.prefetch_batches = prefetch;
      BatchLoader loader(make_samples(n), kFloats, fake_load, options);
      EXPECT_EQ(loader.num_batches(), 13);
      EXPECT_EQ(read_all(loader, 8, n), identity) << workers << " workers, prefetch " << prefetch;
    }
  }
}

TEST(BatchLoader, LastPartialBatchThenEnd) {
  BatchLoaderOptions options;
  options.batch_size = 4;
  options.workers = 3;
  BatchLoader loader(make_samples(10), kFloats, fake_load, options);
  EXPECT_EQ(loader.num_batches(), 3);
  for (const std::vector<int>& ids :
       std::vector<std::vector<int>>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}) {
    std::optional<Batch> batch = loader.next();
    ASSERT_TRUE(batch.has_value());
    expect_batch_holds(*batch, ids);
  }
  EXPECT_FALSE(loader.next().has_value());
  EXPECT_FALSE(loader.next().has_value());
}

// Recycled buffers are filled with later batches: a buffer of a capacity no batch asks for
// (poisoned with NaN) comes back holding a correct batch, and the extra buffers beyond
// prefetch + 1 are dropped rather than kept.
TEST(BatchLoader, RecycledBuffersCarryLaterBatches) {
  BatchLoaderOptions options;
  options.batch_size = 4;
  options.workers = 1;
  options.prefetch_batches = 1;
  // On demand, so that no batch is claimed before the buffers below are recycled (otherwise the
  // worker may take batch 0 between two recycle calls, and three batches carry marked buffers).
  options.on_demand = true;
  BatchLoader loader(make_samples(30), kFloats, fake_load, options);
  constexpr size_t kMarkedCapacity = 1000 * kFloats;
  for (int i = 0; i < 5; ++i) {  // more than prefetch + 1: the extra ones are freed
    std::vector<float> marked(kMarkedCapacity, std::numeric_limits<float>::quiet_NaN());
    loader.recycle(std::move(marked));
  }
  int reused = 0;
  int64_t index = 0;
  while (std::optional<Batch> batch = loader.next()) {
    std::vector<int> ids;
    for (int64_t s = 0; s < batch->size(); ++s) ids.push_back(static_cast<int>(index * 4 + s));
    expect_batch_holds(*batch, ids);
    if (batch->data.capacity() == kMarkedCapacity) ++reused;
    ++index;
    if (index >= 4) loader.recycle(std::move(batch->data));  // the usual pattern from here on
  }
  EXPECT_EQ(index, 8);
  // The two marked buffers kept (prefetch + 1) carry batches 0 and 1; the later batches get new
  // buffers or those recycled from batch 3 on.
  EXPECT_EQ(reused, 2);
}

TEST(BatchLoader, NoSamplesNoBatches) {
  BatchLoader loader({}, kFloats, fake_load, BatchLoaderOptions{});
  EXPECT_EQ(loader.num_batches(), 0);
  EXPECT_FALSE(loader.next().has_value());
}

TEST(BatchLoader, ShuffleIsASeededPermutation) {
  const int n = 50;
  auto order_for = [&](uint64_t seed, int workers) {
    BatchLoaderOptions options;
    options.batch_size = 7;
    options.workers = workers;
    options.shuffle = true;
    options.seed = seed;
    BatchLoader loader(make_samples(n), kFloats, fake_load, options);
    return read_all(loader, 7, n);
  };
  const std::vector<int> a = order_for(7, 1);
  EXPECT_EQ(order_for(7, 4), a);  // same seed, same order, whatever the worker count
  EXPECT_EQ(order_for(7, 2), a);
  const std::vector<int> b = order_for(8, 2);
  EXPECT_NE(a, b);

  std::vector<int> identity(n);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_NE(a, identity);
  for (std::vector<int> order : {a, b}) {
    std::sort(order.begin(), order.end());
    EXPECT_EQ(order, identity);  // a permutation: every sample exactly once
  }
}

TEST(BatchLoader, ClaimedButUnreturnedBatchesStayWithinPrefetch) {
  // Claims never pass next_to_return + prefetch. `allowed` is raised to b+1 *before* the
  // consumer asks for batch b, so it is never below the loader's own next_to_return; a load of
  // batch index >= allowed + prefetch would be a violation.
  for (int prefetch : {1, 2, 0}) {
    const int workers = 4;
    const int batch_size = 2;
    const int limit = prefetch > 0 ? prefetch : 2 * workers;
    std::atomic<int> allowed{0};
    std::atomic<int> violations{0};
    std::atomic<int> max_batch_seen{-1};
    auto load = [&](const std::string& path, float* out) {
      const int b = index_of(path) / batch_size;
      if (b >= allowed.load() + limit) ++violations;
      int seen = max_batch_seen.load();
      while (b > seen && !max_batch_seen.compare_exchange_weak(seen, b)) {
      }
      fake_load(path, out);
    };
    BatchLoaderOptions options;
    options.batch_size = batch_size;
    options.workers = workers;
    options.prefetch_batches = prefetch;
    BatchLoader loader(make_samples(60), kFloats, load, options);
    for (int b = 0; b < loader.num_batches(); ++b) {
      // A slow consumer, so that unbounded workers would run far ahead.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      allowed = b + 1;
      ASSERT_TRUE(loader.next().has_value());
    }
    EXPECT_FALSE(loader.next().has_value());
    EXPECT_EQ(violations.load(), 0) << "prefetch " << prefetch;
    EXPECT_EQ(max_batch_seen.load(), 29);
  }
}

BatchLoaderOptions stop_options() {
  BatchLoaderOptions options;
  options.batch_size = 4;
  options.workers = 3;
  return options;
}

TEST(BatchLoader, StopModeThrowsWithPathAfterEarlierBatches) {
  auto load = [](const std::string& path, float* out) {
    if (path == "s13") throw std::runtime_error("boom");
    fake_load(path, out);
  };
  BatchLoader loader(make_samples(40), kFloats, load, stop_options());
  for (int b = 0; b < 3; ++b) {  // batches 0..2 come whole; batch 3 holds s13
    std::optional<Batch> batch = loader.next();
    ASSERT_TRUE(batch.has_value());
    expect_batch_holds(*batch, {b * 4, b * 4 + 1, b * 4 + 2, b * 4 + 3});
  }
  for (int attempt = 0; attempt < 2; ++attempt) {  // and it stays failed
    try {
      loader.next();
      FAIL() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kCorruptData);
      EXPECT_STREQ(e.what(), "s13: boom");
    }
  }
}

TEST(BatchLoader, StopModeKeepsMessagesNamingThePathAndKindsOfErrors) {
  struct Case {
    std::function<void()> thrower;
    ErrorKind kind;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[] { throw std::runtime_error("cannot decode s5: bad marker"); }, ErrorKind::kCorruptData,
       "cannot decode s5: bad marker"},
      {[] { throw Error(ErrorKind::kNotFound, "s5 vanished"); }, ErrorKind::kNotFound,
       "s5 vanished"},
      {[] { throw 42; }, ErrorKind::kCorruptData,
       "s5: unknown error (an exception not derived from std::exception)"},
      {[] { throw std::runtime_error(""); }, ErrorKind::kCorruptData,
       "s5: load failed (empty error message)"},
  };
  for (const Case& c : cases) {
    auto load = [&](const std::string& path, float* out) {
      if (path == "s5") c.thrower();
      fake_load(path, out);
    };
    BatchLoader loader(make_samples(12), kFloats, load, stop_options());
    ASSERT_TRUE(loader.next().has_value());
    try {
      loader.next();
      FAIL() << "expected an error for " << c.message;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), c.kind);
      EXPECT_EQ(e.what(), c.message);
    }
  }
}

TEST(BatchLoader, StopModeWorkersStopClaimingAfterAFailure) {
  // Batch size 1, prefetch 2: when s5 fails the consumer has returned at most 5 batches, so
  // claims reach at most index 6, and none follow the failure.
  std::atomic<int> calls{0};
  {
    auto load = [&](const std::string& path, float* out) {
      ++calls;
      if (path == "s5") throw std::runtime_error("bad");
      fake_load(path, out);
    };
    BatchLoaderOptions options;
    options.batch_size = 1;
    options.workers = 4;
    options.prefetch_batches = 2;
    BatchLoader loader(make_samples(1000), kFloats, load, options);
    for (int b = 0; b < 5; ++b) ASSERT_TRUE(loader.next().has_value());
    EXPECT_THROW(loader.next(), Error);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // give stray claims a chance
  }
  // The loader is destroyed: every worker has joined, so `calls` is final.
  EXPECT_LE(calls.load(), 7);
  EXPECT_GE(calls.load(), 6);
}

TEST(BatchLoader, SkipModeCompactsAndRecordsReasons) {
  auto load = [](const std::string& path, float* out) {
    if (path == "s1") throw std::runtime_error("truncated");
    if (path == "s2") throw Error(ErrorKind::kCorruptData, "s2: not an image");
    if (path == "s9") throw 7;
    if (path == "s12" || path == "s13") throw std::runtime_error("gone");
    fake_load(path, out);
  };
  BatchLoaderOptions options;
  options.batch_size = 4;
  options.workers = 2;
  options.skip_bad_samples = true;
  BatchLoader loader(make_samples(14), kFloats, load, options);
  std::vector<SkippedSample> skipped;

  std::optional<Batch> b0 = loader.next();
  ASSERT_TRUE(b0.has_value());
  expect_batch_holds(*b0, {0, 3});
  ASSERT_EQ(b0->skipped.size(), 2u);
  EXPECT_EQ(b0->skipped[0].path, "s1");
  EXPECT_EQ(b0->skipped[0].reason, "truncated");
  EXPECT_EQ(b0->skipped[1].path, "s2");
  EXPECT_EQ(b0->skipped[1].reason, "s2: not an image");

  std::optional<Batch> b1 = loader.next();
  ASSERT_TRUE(b1.has_value());
  expect_batch_holds(*b1, {4, 5, 6, 7});
  EXPECT_TRUE(b1->skipped.empty());

  std::optional<Batch> b2 = loader.next();
  ASSERT_TRUE(b2.has_value());
  expect_batch_holds(*b2, {8, 10, 11});
  ASSERT_EQ(b2->skipped.size(), 1u);
  EXPECT_EQ(b2->skipped[0].path, "s9");
  EXPECT_NE(b2->skipped[0].reason.find("unknown error"), std::string::npos);

  std::optional<Batch> b3 = loader.next();  // every sample failed: an empty batch, not the end
  ASSERT_TRUE(b3.has_value());
  EXPECT_EQ(b3->index, 3);
  EXPECT_EQ(b3->size(), 0);
  EXPECT_TRUE(b3->data.empty());
  ASSERT_EQ(b3->skipped.size(), 2u);
  EXPECT_EQ(b3->skipped[1].path, "s13");
  EXPECT_EQ(b3->skipped[1].reason, "gone");

  EXPECT_FALSE(loader.next().has_value());
  EXPECT_EQ(b0->skipped.size() + b1->skipped.size() + b2->skipped.size() + b3->skipped.size(), 5u);
}

TEST(BatchLoader, DestructorReturnsWithUnreadBatches) {
  auto slow = [](const std::string& path, float* out) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    fake_load(path, out);
  };
  BatchLoaderOptions options;
  options.batch_size = 16;
  options.workers = 4;
  { BatchLoader never_read(make_samples(10000), kFloats, slow, options); }
  {
    BatchLoader half_read(make_samples(10000), kFloats, slow, options);
    ASSERT_TRUE(half_read.next().has_value());
    ASSERT_TRUE(half_read.next().has_value());
  }
  {
    auto failing = [](const std::string&, float*) { throw std::runtime_error("no"); };
    BatchLoader failed(make_samples(100), kFloats, failing, options);  // never read
  }
  SUCCEED();  // a hang here would be caught by ctest's timeout
}

TEST(BatchLoader, RejectsBadOptions) {
  auto expect_invalid = [](BatchLoaderOptions options, SampleLoadFn fn = fake_load) {
    try {
      BatchLoader loader(make_samples(4), kFloats, fn, options);
      ADD_FAILURE() << "expected an error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    }
  };
  BatchLoaderOptions options;
  options.batch_size = 0;
  expect_invalid(options);
  options = BatchLoaderOptions{};
  options.workers = 0;
  expect_invalid(options);
  options = BatchLoaderOptions{};
  options.prefetch_batches = -1;
  expect_invalid(options);
  expect_invalid(BatchLoaderOptions{}, SampleLoadFn{});
}

}  // namespace
}  // namespace ptinfer::data

namespace ptinfer::data {
namespace {

TEST(BatchLoader, OnDemandLoadsNothingWhileTheConsumerWorks) {
  std::atomic<int> loads{0};
  BatchLoaderOptions options;
  options.batch_size = 4;
  options.workers = 3;
  options.on_demand = true;
  BatchLoader loader(make_samples(12), kFloats, counting_fake_load(loads), options);
  // Nothing is loaded before the first next().
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(loads.load(), 0);
  for (int b = 0; b < 3; ++b) {
    std::optional<Batch> batch = loader.next();
    ASSERT_TRUE(batch.has_value());
    expect_batch_holds(*batch, {4 * b, 4 * b + 1, 4 * b + 2, 4 * b + 3});
    // The consumer "computes": no worker may load the next batch meanwhile.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_EQ(loads.load(), 4 * (b + 1));
  }
  EXPECT_FALSE(loader.next().has_value());
}

TEST(BatchLoader, FirstBatchAloneHoldsPrefetchUntilTheSecondNext) {
  std::atomic<int> loads{0};
  BatchLoaderOptions options;
  options.batch_size = 4;
  options.workers = 3;
  options.prefetch_batches = 3;
  options.first_batch_alone = true;
  BatchLoader loader(make_samples(24), kFloats, counting_fake_load(loads), options);
  // Batch 0 loads before anyone asks, as in normal mode, and nothing else does, before or after
  // the consumer takes it, while it "runs the first forward".
  wait_for_loads(loads, 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(loads.load(), 4);
  std::optional<Batch> first = loader.next();
  ASSERT_TRUE(first.has_value());
  expect_batch_holds(*first, {0, 1, 2, 3});
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(loads.load(), 4);
  // Asking for batch 1 releases the hold: normal prefetching, up to 3 batches past the consumer.
  std::optional<Batch> second = loader.next();
  ASSERT_TRUE(second.has_value());
  expect_batch_holds(*second, {4, 5, 6, 7});
  wait_for_loads(loads, 20);
  EXPECT_EQ(loads.load(), 20);  // batches 2, 3, 4 prefetched; batch 5 waits for a free slot
  for (int b = 2; b < 6; ++b) {
    std::optional<Batch> batch = loader.next();
    ASSERT_TRUE(batch.has_value());
    expect_batch_holds(*batch, {4 * b, 4 * b + 1, 4 * b + 2, 4 * b + 3});
  }
  EXPECT_FALSE(loader.next().has_value());
}

}  // namespace
}  // namespace ptinfer::data
