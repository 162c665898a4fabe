#include "app/validate.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>

#include "app/predictions_writer.h"
#include "app/process_stats.h"
#include "common/error.h"
#include "data/batch_loader.h"
#include "data/image_folder.h"
#include "metrics/meters.h"
#include "metrics/topk.h"
#include "models/registry.h"

namespace ptinfer::app {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void check_options(const ValidateOptions& o) {
  if (o.batch_size < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "-b/--batch_size must be >= 1, got " + std::to_string(o.batch_size));
  }
  if (o.workers < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "-j/--workers must be >= 1, got " + std::to_string(o.workers));
  }
  if (o.print_freq < 0) {
    throw Error(ErrorKind::kInvalidArgument, "--print-freq must be >= 0");
  }
}

// Where the preprocessing in effect (config's resize_size .. std) came from: the base, the
// fields given explicitly, and the architecture's preset (null without one).
nlohmann::json preprocessing_json(const ValidateOptions& o) {
  nlohmann::json preset = nullptr;
  if (std::optional<data::PreprocessOptions> p = preset_preprocessing(o.engine.arch)) {
    preset = {{"resize_size", p->resize_size},
              {"crop_size", p->crop_size},
              {"interpolation", data::interpolation_name(p->interpolation)},
              {"mean", p->mean},
              {"std", p->std}};
  }
  return {{"source", preprocessing_base_name(o.preprocessing.base)},
          {"explicit", overridden_fields(o.preprocessing.overrides)},
          {"preset", preset}};
}

// `ran`: the preprocessing that ran (o.preprocess, fitted to an input size the weights fix).
nlohmann::json summary_json(const ValidateOptions& o, const ValidateResult& r,
                            const engine::ModelInfo& info, const data::PreprocessOptions& ran,
                            const std::string& root, size_t num_classes_in_folder) {
  nlohmann::json j;
  j["summary"] = {{"images", r.images},
                  {"correct1", r.correct1},
                  {"correct5", r.correct5},
                  {"acc1", r.acc1},
                  {"acc5", r.acc5},
                  {"seconds", r.seconds},
                  {"images_per_second", r.images_per_second},
                  {"seconds_to_first_prediction", r.seconds_to_first_prediction},
                  {"peak_rss_mib", r.peak_rss_mib},
                  {"skipped_count", r.skipped.size()},
                  {"skipped", r.skipped}};
  j["config"] = {{"data", root},
                 {"classes_in_folder", num_classes_in_folder},
                 {"arch", o.engine.arch},
                 {"resume", o.engine.checkpoint},
                 {"pretrained", o.engine.pretrained},
                 {"weights", info.weights},
                 {"num_classes", info.num_classes},
                 {"device", o.engine.device},
                 {"amp", amp::to_string(o.engine.amp.level)},
                 {"amp_dtype", amp::to_string(o.engine.amp.dtype)},
                 {"batch_size", o.batch_size},
                 {"workers", o.workers},
                 {"task_queue", o.task_queue},
                 {"preprocessing", preprocessing_json(o)},
                 {"input_size_from_weights", info.input_size > 0 ? nlohmann::json(info.input_size)
                                                                 : nlohmann::json(nullptr)},
                 {"resize_size", ran.resize_size},
                 {"crop_size", ran.crop_size},
                 {"interpolation", data::interpolation_name(ran.interpolation)},
                 {"mean", ran.mean},
                 {"std", ran.std},
                 {"shuffle", o.shuffle},
                 {"seed", o.seed},
                 {"skip_bad_images", o.skip_bad_images},
                 {"unused_flags", o.unused_flags}};
  return j;
}

}  // namespace

std::string validation_root(const std::string& data) {
  std::filesystem::path val = std::filesystem::path(data) / "val";
  std::error_code ec;
  return std::filesystem::is_directory(val, ec) ? val.string() : data;
}

ValidateResult run_validate(const ValidateOptions& options, std::ostream& out) {
  check_options(options);
  if (!options.unused_flags.empty()) {
    std::string flags;
    for (const auto& f : options.unused_flags) flags += (flags.empty() ? "" : ", ") + f;
    out << "=> " << flags << ": training flags, accepted so the guide's command line runs; "
        << "unused by validate" << std::endl;
  }
  // The data first: a wrong --data fails before the model is built.
  std::string root = validation_root(options.data);
  data::ImageFolderIndex index = data::scan_image_folder(root);
  out << "=> " << index.samples.size() << " images in " << index.classes.size()
      << " classes under '" << root << "'" << std::endl;

  auto build_engine = [&options, &out] {
    out << "use  " << options.engine.device << std::endl;
    out << "=> creating model '" << options.engine.arch << "'" << std::endl;
    if (!options.engine.checkpoint.empty()) {
      out << "=> loading checkpoint '" << options.engine.checkpoint << "'" << std::endl;
    }
    auto engine = std::make_unique<engine::Engine>(options.engine);
    if (!options.engine.checkpoint.empty()) {
      const auto& epoch = engine->info().epoch;
      out << "=> loaded checkpoint '" << options.engine.checkpoint << "' (epoch "
          << (epoch ? std::to_string(*epoch) : std::string("unknown")) << ")" << std::endl;
    }
    return engine;
  };
  // Where the weights can fix the input size (a ViT's positional embedding), the model is built
  // first and the crop follows it; otherwise the loader starts first.
  std::unique_ptr<engine::Engine> engine;
  data::PreprocessOptions preprocess = options.preprocess;
  if (models::weights_fix_input_size(options.engine.arch)) {
    engine = build_engine();
    const PreprocessingOverrides& given = options.preprocessing.overrides;
    preprocess = data::fit_input_size(preprocess, engine->info().input_size,
                                      given.crop_size.has_value(), given.resize_size.has_value(),
                                      engine->info().weights);
    if (preprocess.crop_size != options.preprocess.crop_size) {
      out << "=> " << engine->info().weights << " fixes the input size to "
          << preprocess.crop_size << "x" << preprocess.crop_size << ": running "
          << describe_preprocessing(preprocess, false) << std::endl;
    }
  }

  // The loader next: a worker decodes the first batch while the checkpoint loads and the model
  // is built (time to first prediction).
  const size_t sample_floats = data::preprocessed_size(preprocess);
  data::BatchLoaderOptions loader_options;
  loader_options.batch_size = options.batch_size;
  loader_options.workers = options.workers;
  // One batch ahead per worker: the forward, not decoding, is the bottleneck, and each batch in
  // flight holds batch_size decoded images (19 MiB at batch 32).
  loader_options.prefetch_batches = options.workers;
  loader_options.on_demand = !options.task_queue;
  // Batches 1.. wait until the first forward is done: it packs the weights (oneDNN's Winograd
  // transform among them) and runs sooner without decoding beside it on 2 cores.
  loader_options.first_batch_alone = true;
  loader_options.shuffle = options.shuffle;
  loader_options.seed = options.seed;
  loader_options.skip_bad_samples = options.skip_bad_images;
  data::BatchLoader loader(
      index.samples, sample_floats,
      [preprocess](const std::string& path, float* dst) {
        data::preprocess_file(path, preprocess, dst);
      },
      loader_options);

  const std::string note = preset_note(options.engine.arch, options.preprocessing, preprocess);
  if (!note.empty()) {
    out << "=> note: " << note << std::endl;
    spdlog::info("validate: note: {}", note);
  }

  if (!engine) engine = build_engine();
  const engine::ModelInfo& info = engine->info();
  if (static_cast<int64_t>(index.classes.size()) > info.num_classes) {
    throw Error(ErrorKind::kInvalidArgument,
                "--data '" + root + "' has " + std::to_string(index.classes.size()) +
                    " classes but the model has " + std::to_string(info.num_classes) + " outputs");
  }

  std::unique_ptr<PredictionsWriter> predictions;
  if (!options.predictions_path.empty()) {
    predictions = std::make_unique<PredictionsWriter>(options.predictions_path);
  }

  metrics::AverageMeter batch_time("Time", 3, 6, options.timing_warmup);
  metrics::AverageMeter top1("Acc@1", 2, 6);
  metrics::AverageMeter top5("Acc@5", 2, 6);
  metrics::AccuracyCounts counts;
  ValidateResult result;
  const int64_t num_batches = loader.num_batches();
  const int64_t crop = preprocess.crop_size;

  Clock::time_point start = Clock::now();
  Clock::time_point end = start;
  while (std::optional<data::Batch> batch = loader.next()) {
    for (const auto& s : batch->skipped) {
      out << "=> skipped bad image " << s.path << ": " << s.reason << std::endl;
      spdlog::warn("skipped bad image {}: {}", s.path, s.reason);
      result.skipped.push_back(s.path + ": " + s.reason);
    }
    if (batch->size() > 0) {
      torch::Tensor input =
          torch::from_blob(batch->data.data(), {batch->size(), 3, crop, crop}, torch::kFloat32);
      torch::Tensor logits = engine->run(input);
      if (result.seconds_to_first_prediction == 0) {
        result.seconds_to_first_prediction = seconds_since_process_start();
      }
      metrics::TopK topk = metrics::top_k(logits, 5);
      metrics::AccuracyCounts batch_counts;
      batch_counts.add(topk, batch->labels);
      counts.correct1 += batch_counts.correct1;
      counts.correct5 += batch_counts.correct5;
      counts.samples += batch_counts.samples;
      top1.update(batch_counts.acc1(), batch->size());
      top5.update(batch_counts.acc5(), batch->size());
      if (predictions) {
        for (int64_t i = 0; i < batch->size(); ++i) {
          predictions->write(batch->paths[i], batch->labels[i], topk.indices[i], topk.scores[i]);
        }
      }
      // Done with the batch's floats (and anything that might view them): a worker refills them.
      input = logits = torch::Tensor();
      loader.recycle(std::move(batch->data));
    }
    batch_time.update(seconds_since(end));
    end = Clock::now();
    bool last = batch->index + 1 == num_batches;
    if (options.print_freq > 0 && (batch->index % options.print_freq == 0 || last)) {
      out << metrics::progress_line("Test: ", batch->index, num_batches,
                                    {&batch_time, &top1, &top5})
          << std::endl;
    }
  }
  if (predictions) predictions->close();

  result.images = counts.samples;
  result.correct1 = counts.correct1;
  result.correct5 = counts.correct5;
  result.acc1 = counts.acc1();
  result.acc5 = counts.acc5();
  result.seconds = seconds_since(start);
  result.images_per_second = result.seconds > 0 ? result.images / result.seconds : 0;
  result.peak_rss_mib = peak_rss_mib();

  out << " * Acc@1 " << metrics::format_fixed(result.acc1, 0, 3) << " Acc@5 "
      << metrics::format_fixed(result.acc5, 0, 3) << std::endl;
  out << "=> " << result.images << " images (" << result.correct1 << " correct at top-1, "
      << result.correct5 << " at top-5), " << result.skipped.size() << " skipped, "
      << metrics::format_fixed(result.images_per_second, 0, 1) << " img/s, "
      << metrics::format_fixed(result.seconds, 0, 2) << " s" << std::endl;
  out << "=> first prediction " << metrics::format_fixed(result.seconds_to_first_prediction, 0, 2)
      << " s after process start, peak RSS " << metrics::format_fixed(result.peak_rss_mib, 0, 0)
      << " MiB" << std::endl;
  spdlog::info("validate: {} images, Acc@1 {:.3f} Acc@5 {:.3f}, {:.1f} img/s", result.images,
               result.acc1, result.acc5, result.images_per_second);

  if (!options.json_path.empty()) {
    std::ofstream json(options.json_path);
    json << summary_json(options, result, info, preprocess, root, index.classes.size()).dump(2) << "\n";
    if (!json) {
      throw Error(ErrorKind::kInvalidArgument, "--json: cannot write '" + options.json_path + "'");
    }
  }
  return result;
}

}  // namespace ptinfer::app
