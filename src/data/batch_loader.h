// Worker threads that turn a list of samples into batches of preprocessed images, in a fixed
// order, with a bounded number of batches in flight (memory does not grow with the dataset).
//
// Ownership and threads: the BatchLoader owns its workers; next() is called from one consumer
// thread. Workers run `load_fn` concurrently on different samples, so load_fn must be
// thread-safe. The destructor stops and joins the workers, also when batches are left unread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "data/image_folder.h"

namespace ptinfer::data {

struct BatchLoaderOptions {
  int batch_size = 32;       // samples per batch (the last batch may be smaller)
  int workers = 2;           // loader threads (>= 1)
  int prefetch_batches = 0;  // batches prepared ahead of next(); 0 = 2 * workers
  bool shuffle = false;      // permute samples once with `seed` (same seed, same order)
  uint64_t seed = 0;
  bool skip_bad_samples = false;  // false: a failing sample stops the run (next() throws)
  bool on_demand = false;  // true: a batch is loaded only while next() waits for it, so loading
                           // never overlaps the consumer's work (PTINFER_TASK_QUEUE=0)
  // true: workers load batch 0 alone and claim later batches only once next() is called a second
  // time, so the consumer's first pass over batch 0 (a model's first forward, with its one-time
  // weight packing) has the cores to itself and the first result comes sooner; prefetching then
  // goes on as usual. No effect with on_demand.
  bool first_batch_alone = false;
};

// One skipped sample: its path and the reason load_fn gave.
struct SkippedSample {
  std::string path;
  std::string reason;
};

struct Batch {
  int64_t index = 0;        // 0-based batch number
  std::vector<float> data;  // size() samples of sample_floats each, contiguous
  std::vector<int> labels;
  std::vector<std::string> paths;
  std::vector<SkippedSample> skipped;  // samples of this batch that failed (skip mode only)
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// Writes the sample at `path` as sample_floats floats to `out`; throws on a bad sample.
using SampleLoadFn = std::function<void(const std::string& path, float* out)>;

class BatchLoader {
 public:
  // Starts the workers. sample_floats: floats per sample. Throws Error(kInvalidArgument) for
  // batch_size < 1, workers < 1, prefetch_batches < 0, an empty load_fn, or a batch buffer
  // (batch_size * sample_floats floats) too large to represent. With shuffle, the samples are
  // permuted once by Fisher-Yates driven by std::mt19937_64(seed) (our own unbiased bounded
  // draw, so the order is the same with any standard library). An empty sample list is allowed
  // (no batches).
  BatchLoader(std::vector<Sample> samples, size_t sample_floats, SampleLoadFn load_fn,
              BatchLoaderOptions options);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  // Number of batches: ceil(samples / batch_size).
  int64_t num_batches() const;

  // The next batch in order, or nullopt after the last. Batch b holds samples
  // [b * batch_size, min((b + 1) * batch_size, n)) of the (possibly shuffled) list, sample i of
  // the batch at data[i * sample_floats]. Memory: at most prefetch_batches batches are claimed
  // by workers and not yet returned here (0 means 2 * workers).
  // A failing sample is one whose load_fn throws anything (std::exception or not).
  // - skip_bad_samples: it is left out, the later samples of the batch move up (data, labels,
  //   paths stay aligned), and batch.skipped gets {path, what()}. A batch whose samples all fail
  //   is returned with size() 0.
  // - otherwise: batches before the failing one are returned normally; reaching it throws
  //   Error with the sample's message, prefixed with "<path>: " unless it already contains the
  //   path; the kind is the thrown Error's kind, or kCorruptData for any other exception. Every
  //   later call throws the same error, and workers claim no new batches after a failure.
  std::optional<Batch> next();

  // Hands a batch's data buffer back once the caller is done with it (e.g. after the forward
  // that read it): a worker fills it with a later batch instead of allocating a new one, so a
  // run allocates about prefetch + 2 batch buffers in all rather than one per batch, and its
  // memory does not creep up with heap fragmentation. Optional; the contents are overwritten.
  // At most prefetch + 1 buffers are kept; extra ones are freed.
  void recycle(std::vector<float>&& buffer);

 private:
  // A batch that failed in stop mode: what next() throws when the consumer reaches it.
  struct Failure {
    ErrorKind kind;
    std::string message;  // names the sample's path
  };

  void worker_loop();
  // Whether a worker may claim batch next_to_claim_ now (prefetch depth, on_demand and
  // first_batch_alone rules). Called with mutex_ held.
  bool may_claim() const;
  // Fills `batch` (already holding room for batch_size samples) with batch `index`. Returns the
  // failure in stop mode, or nullopt. Called without the lock.
  std::optional<Failure> load_batch(int64_t index, Batch& batch);

  std::vector<Sample> samples_;  // in delivery order (permuted once when shuffling)
  size_t sample_floats_;
  SampleLoadFn load_fn_;
  BatchLoaderOptions options_;
  int64_t num_batches_ = 0;
  int64_t prefetch_ = 0;  // most batches claimed by workers and not yet returned by next()

  std::mutex mutex_;                   // guards everything below except stopping_'s reads
  std::condition_variable cv_;         // signalled when a batch completes, a slot frees or stop
  int64_t next_to_claim_ = 0;          // next batch index a worker will prepare
  int64_t next_to_return_ = 0;         // next batch index next() returns
  bool consumer_waiting_ = false;      // next() is waiting (on_demand, first_batch_alone)
  std::map<int64_t, Batch> ready_;     // finished batches waiting for next()
  std::map<int64_t, Failure> failed_;  // batch index -> its first failing sample (stop mode)
  std::vector<std::vector<float>> free_buffers_;  // recycle()d data buffers for later batches
  // Set by the destructor (under mutex_, for the waits); read without the lock by workers
  // between samples so that a half-loaded batch is abandoned promptly.
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> workers_;
};

}  // namespace ptinfer::data
