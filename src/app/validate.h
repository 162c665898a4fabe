// `ptinfer validate`: the guide's validation sample. ImageFolder -> loader workers -> Engine ->
// top-k -> meters -> report, with the sample's progress lines and final " * Acc@1 x Acc@5 y".
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "app/preprocessing.h"
#include "data/preprocess.h"
#include "engine/engine.h"

namespace ptinfer::app {

struct ValidateOptions {
  std::string data;              // --data: DIR/val when it exists, else DIR
  engine::EngineOptions engine;  // arch, checkpoint (--resume), pretrained, device
  data::PreprocessOptions preprocess;  // what runs
  // How `preprocess` was chosen (app/preprocessing.h: resolve_preprocessing of it for the arch):
  // for the note when the arch's preset differs and for --json.
  PreprocessingChoice preprocessing;
  int batch_size = 32;     // -b/--batch_size
  int workers = 2;         // -j/--workers: loader threads
  bool task_queue = true;  // PTINFER_TASK_QUEUE: false loads each batch only when needed
  int print_freq = 10;     // progress line every N batches (and the last); 0 = never
  int timing_warmup = 10;  // batches left out of the timing average
  bool shuffle = false;    // --shuffle with --seed: order of images
  uint64_t seed = 0;
  bool skip_bad_images = false;           // report and skip undecodable images instead of stopping
  std::string json_path;                  // --json FILE: summary and configuration
  std::string predictions_path;           // --predictions FILE: one CSV row per image
  std::vector<std::string> unused_flags;  // training flags accepted for the guide's command line
};

struct ValidateResult {
  int64_t images = 0;
  int64_t correct1 = 0;
  int64_t correct5 = 0;
  double acc1 = 0;  // percent of all images
  double acc5 = 0;
  double seconds = 0;                // wall time of the loop
  double images_per_second = 0;      // all images / wall time
  std::vector<std::string> skipped;  // "path: reason"
  // Process start -> the first batch's logits (dynamic loading, checkpoint read, model build,
  // the loader's first batch and the first forward); 0 when no batch ran.
  double seconds_to_first_prediction = 0;
  double peak_rss_mib = 0;  // the process's largest resident set, at the end
};

// Runs validation, printing the sample's lines to `out` (and "=> note: " + preset_note, also to
// the log, when the architecture's preset differs from what runs). Throws ptinfer::Error for bad data,
// a bad image (unless skip_bad_images), checkpoint and model errors.
ValidateResult run_validate(const ValidateOptions& options, std::ostream& out);

// The folder validate reads: DIR/val when it is a directory, else DIR.
std::string validation_root(const std::string& data);

}  // namespace ptinfer::app
