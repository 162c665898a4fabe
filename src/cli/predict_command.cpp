#include <iostream>
#include <memory>

#include "app/predict.h"
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "engine/cpu_setup.h"

namespace ptinfer::cli {
namespace {

struct PredictFlags {
  CommonFlags common;
  std::vector<std::string> inputs;
  int topk = 5;
  int batch_size = 32;
  int workers = 0;
  std::string labels_path;
  std::string json_path;
};

}  // namespace

CommandRunner add_predict_command(CLI::App& app) {
  auto flags = std::make_shared<PredictFlags>();
  CLI::App* cmd = app.add_subcommand("predict", "Top-k classes for image files or folders");
  cmd->allow_extras();
  // As argparse: a flag given twice takes its last value.
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  add_common_flags(*cmd, flags->common);
  cmd->add_option("images", flags->inputs, "image files or folders")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("-k,--topk", flags->topk, "classes to print per image")->capture_default_str();
  cmd->add_option("-b,--batch_size,--batch-size", flags->batch_size, "images per batch")
      ->capture_default_str();
  cmd->add_option("-j,--workers", flags->workers, "image loading threads (default: usable cores)");
  cmd->add_option("--labels", flags->labels_path,
                  "class names: index_to_name.json ({\"0\": \"name\"}) or one name a line");
  cmd->add_option("--json", flags->json_path, "write the predictions as JSON");

  return [cmd, flags](const runtime::RuntimeConfig& config) -> int {
    if (!cmd->parsed()) return -1;
    if (report_unknown_args(*cmd)) return 2;
    app::PredictOptions o;
    o.engine = engine_options(flags->common, config);
    o.preprocessing = preprocessing_choice(flags->common);
    o.preprocess = preprocess_options(flags->common);
    o.engine.input_size = o.preprocess.crop_size;
    o.inputs = flags->inputs;
    o.topk = flags->topk;
    o.batch_size = flags->batch_size;
    o.workers = flags->workers > 0 ? flags->workers : engine::usable_cores();
    o.labels_path = flags->labels_path;
    o.json_path = flags->json_path;
    app::run_predict(o, std::cout);
    return 0;
  };
}

}  // namespace ptinfer::cli
