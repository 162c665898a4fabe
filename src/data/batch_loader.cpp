// BatchLoader: workers claim batch indices strictly in increasing order, at most prefetch_
// ahead of the consumer, and fill each batch alone (one batch, one worker), so samples inside a
// batch keep their order and the output is the same for any number of workers. Finished batches
// wait in ready_ until next() asks for exactly their index.
//
// Because claims go in order, when batch k fails every batch before k has already been claimed
// and will complete: the consumer receives batches 0..k-1 and then the error, whatever the
// timing. Stopping further claims after a failure bounds the wasted work.
#include "data/batch_loader.h"

#include <algorithm>
#include <random>
#include <string>
#include <utility>

namespace ptinfer::data {
namespace {

// Uniform integer in [0, bound) from a 64-bit generator, by rejection: the standard library's
// uniform_int_distribution is implementation-defined, and the order must not change with it.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t bound) {
  // 2^64 mod bound: values below it would make small results more likely.
  const uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const uint64_t r = rng();
    if (r >= threshold) return r % bound;
  }
}

// Fisher-Yates (Durstenfeld's variant): for i = n-1 down to 1, swap element i with element
// j = uniform_below(i + 1).
void shuffle_samples(std::vector<Sample>& samples, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = samples.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(uniform_below(rng, i));
    std::swap(samples[i - 1], samples[j]);
  }
}

}  // namespace

BatchLoader::BatchLoader(std::vector<Sample> samples, size_t sample_floats, SampleLoadFn load_fn,
                         BatchLoaderOptions options)
    : samples_(std::move(samples)),
      sample_floats_(sample_floats),
      load_fn_(std::move(load_fn)),
      options_(options) {
  if (options_.batch_size < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "batch_size must be >= 1, got " + std::to_string(options_.batch_size));
  }
  if (options_.workers < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "workers must be >= 1, got " + std::to_string(options_.workers));
  }
  if (options_.prefetch_batches < 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "prefetch_batches must be >= 0, got " + std::to_string(options_.prefetch_batches));
  }
  if (!load_fn_) throw Error(ErrorKind::kInvalidArgument, "BatchLoader needs a load function");
  // One batch's buffer must be representable before any worker tries to allocate it.
  const size_t max_floats = std::vector<float>().max_size();
  if (sample_floats_ > 0 &&
      static_cast<size_t>(options_.batch_size) > max_floats / sample_floats_) {
    throw Error(ErrorKind::kInvalidArgument, "batch of " + std::to_string(options_.batch_size) +
                                                 " samples of " + std::to_string(sample_floats_) +
                                                 " floats is too large");
  }
  if (options_.shuffle) shuffle_samples(samples_, options_.seed);

  const int64_t n = static_cast<int64_t>(samples_.size());
  num_batches_ = (n + options_.batch_size - 1) / options_.batch_size;
  prefetch_ = options_.prefetch_batches > 0 ? options_.prefetch_batches
                                            : 2 * static_cast<int64_t>(options_.workers);

  // More threads than batches would only sit idle.
  const int64_t threads = std::min<int64_t>(options_.workers, num_batches_);
  try {
    for (int64_t i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
  } catch (...) {
    // The destructor does not run for a half-built object: stop what was started.
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : workers_) t.join();
    throw;
  }
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  // Workers notice stopping_ before the next sample, so this waits for at most one load_fn
  // call per worker.
  for (std::thread& t : workers_) t.join();
}

int64_t BatchLoader::num_batches() const { return num_batches_; }

std::optional<Batch> BatchLoader::next() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_to_return_ >= num_batches_) return std::nullopt;
  const int64_t want = next_to_return_;
  // `want` is always claimed or claimable: it is below next_to_claim_ + prefetch_, and claims
  // only stop after a failure at an index <= want (see the file comment).
  consumer_waiting_ = true;
  cv_.notify_all();  // in on_demand mode, workers wait for this
  cv_.wait(lock, [&] { return ready_.count(want) > 0 || failed_.count(want) > 0; });
  consumer_waiting_ = false;
  auto failed = failed_.find(want);
  if (failed != failed_.end()) {
    // next_to_return_ stays here: every later call throws the same error.
    throw Error(failed->second.kind, failed->second.message);
  }
  auto node = ready_.extract(want);
  ++next_to_return_;
  lock.unlock();
  cv_.notify_all();  // a prefetch slot is free
  return std::move(node.mapped());
}

void BatchLoader::recycle(std::vector<float>&& buffer) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (static_cast<int64_t>(free_buffers_.size()) <= prefetch_) {
    free_buffers_.push_back(std::move(buffer));
  }
}

bool BatchLoader::may_claim() const {
  if (options_.on_demand) return consumer_waiting_ && next_to_claim_ == next_to_return_;
  if (options_.first_batch_alone && next_to_claim_ > 0) {
    // Batch 0 was claimed: wait until it was returned and next() asks for batch 1.
    const bool first_batch_used =
        next_to_return_ >= 2 || (next_to_return_ == 1 && consumer_waiting_);
    if (!first_batch_used) return false;
  }
  return next_to_claim_ - next_to_return_ < prefetch_;
}

void BatchLoader::worker_loop() {
  for (;;) {
    int64_t index = 0;
    Batch batch;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] {
        return stopping_ || !failed_.empty() || next_to_claim_ >= num_batches_ || may_claim();
      });
      if (stopping_ || !failed_.empty() || next_to_claim_ >= num_batches_) return;
      index = next_to_claim_++;
      if (!free_buffers_.empty()) {
        batch.data = std::move(free_buffers_.back());
        free_buffers_.pop_back();
      }
    }
    batch.index = index;
    std::optional<Failure> failure;
    try {
      failure = load_batch(index, batch);
    } catch (const std::exception& e) {
      // Not load_fn's error (those are caught per sample): the batch buffer itself failed.
      failure = Failure{ErrorKind::kInternal,
                        "batch " + std::to_string(index) + " could not be prepared: " + e.what()};
    } catch (...) {
      failure = Failure{ErrorKind::kInternal,
                        "batch " + std::to_string(index) + " could not be prepared"};
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;  // the batch may be half loaded; nobody will read it
      if (failure) {
        failed_.emplace(index, std::move(*failure));
      } else {
        ready_.emplace(index, std::move(batch));
      }
    }
    cv_.notify_all();
  }
}

std::optional<BatchLoader::Failure> BatchLoader::load_batch(int64_t index, Batch& batch) {
  const size_t begin = static_cast<size_t>(index) * static_cast<size_t>(options_.batch_size);
  const size_t end = std::min(begin + static_cast<size_t>(options_.batch_size), samples_.size());
  const size_t count = end - begin;
  batch.data.resize(count * sample_floats_);
  batch.labels.reserve(count);
  batch.paths.reserve(count);

  size_t filled = 0;  // samples written so far; a failed sample's slot is reused by the next
  for (size_t i = begin; i < end; ++i) {
    if (stopping_.load(std::memory_order_relaxed)) return std::nullopt;
    const Sample& sample = samples_[i];
    ErrorKind kind = ErrorKind::kCorruptData;
    std::string reason;
    bool ok = false;
    try {
      load_fn_(sample.path, batch.data.data() + filled * sample_floats_);
      ok = true;
    } catch (const Error& e) {
      kind = e.kind();  // e.g. kNotFound for a file that vanished: more precise than "corrupt"
      reason = e.what();
    } catch (const std::exception& e) {
      reason = e.what();
    } catch (...) {
      reason = "unknown error (an exception not derived from std::exception)";
    }
    if (ok) {
      batch.labels.push_back(sample.label);
      batch.paths.push_back(sample.path);
      ++filled;
      continue;
    }
    if (reason.empty()) reason = "load failed (empty error message)";
    if (options_.skip_bad_samples) {
      batch.skipped.push_back(SkippedSample{sample.path, std::move(reason)});
      continue;
    }
    if (reason.find(sample.path) == std::string::npos) reason = sample.path + ": " + reason;
    return Failure{kind, std::move(reason)};
  }
  batch.data.resize(filled * sample_floats_);
  return std::nullopt;
}

}  // namespace ptinfer::data
