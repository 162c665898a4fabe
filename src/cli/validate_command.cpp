#include <iostream>
#include <memory>

#include "app/validate.h"
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "engine/cpu_setup.h"

namespace ptinfer::cli {
namespace {

struct ValidateFlags {
  CommonFlags common;
  std::string data;
  int batch_size = 32;
  int workers = 0;  // 0: the usable cores
  int print_freq = 10;
  int timing_warmup = 10;
  bool shuffle = false;
  uint64_t seed = 0;
  bool skip_bad_images = false;
  std::string json_path;
  std::string predictions_path;
  // The guide's training flags, accepted so its command line runs unchanged.
  std::optional<int> epochs;
  std::optional<double> lr;
  std::optional<double> wd;
};

}  // namespace

CommandRunner add_validate_command(CLI::App& app) {
  auto flags = std::make_shared<ValidateFlags>();
  CLI::App* cmd = app.add_subcommand(
      "validate", "Top-1/top-5 accuracy of a model on an ImageFolder (the guide's sample)");
  cmd->allow_extras();
  // As argparse: a flag given twice takes its last value.
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  add_common_flags(*cmd, flags->common);
  cmd->add_option("--data", flags->data, "dataset folder; DIR/val is used when it exists")
      ->required();
  cmd->add_option("-b,--batch_size,--batch-size", flags->batch_size, "images per batch")
      ->capture_default_str();
  cmd->add_option("-j,--workers", flags->workers, "image loading threads (default: usable cores)");
  cmd->add_option("-p,--print-freq", flags->print_freq, "progress line every N batches (0: none)")
      ->capture_default_str();
  cmd->add_option("--timing-warmup", flags->timing_warmup, "batches left out of the average time")
      ->capture_default_str();
  cmd->add_flag("--shuffle", flags->shuffle, "visit images in a seeded random order");
  cmd->add_option("--seed", flags->seed, "seed for --shuffle")->capture_default_str();
  cmd->add_flag("--skip-bad-images", flags->skip_bad_images,
                "report and skip images that fail to decode");
  cmd->add_option("--json", flags->json_path, "write a JSON summary with the configuration");
  cmd->add_option("--predictions", flags->predictions_path, "write one CSV row per image");
  cmd->add_option("--epochs", flags->epochs, "accepted for the guide's command line; unused");
  cmd->add_option("--lr,--learning_rate", flags->lr,
                  "accepted for the guide's command line; unused");
  cmd->add_option("--wd,--weight_decay", flags->wd,
                  "accepted for the guide's command line; unused");

  return [cmd, flags](const runtime::RuntimeConfig& config) -> int {
    if (!cmd->parsed()) return -1;
    if (report_unknown_args(*cmd)) return 2;
    app::ValidateOptions o;
    o.data = flags->data;
    o.engine = engine_options(flags->common, config);
    o.preprocessing = preprocessing_choice(flags->common);
    o.preprocess = preprocess_options(flags->common);
    o.engine.input_size = o.preprocess.crop_size;
    o.batch_size = flags->batch_size;
    o.workers = flags->workers > 0 ? flags->workers : engine::usable_cores();
    o.task_queue = config.task_queue;
    o.print_freq = flags->print_freq;
    o.timing_warmup = flags->timing_warmup;
    o.shuffle = flags->shuffle;
    o.seed = flags->seed;
    o.skip_bad_images = flags->skip_bad_images;
    o.json_path = flags->json_path;
    o.predictions_path = flags->predictions_path;
    if (flags->epochs) o.unused_flags.push_back("--epochs");
    if (flags->lr) o.unused_flags.push_back("--lr");
    if (flags->wd) o.unused_flags.push_back("--wd");
    app::run_validate(o, std::cout);
    return 0;
  };
}

}  // namespace ptinfer::cli
