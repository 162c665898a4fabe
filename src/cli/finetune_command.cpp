// `ptinfer finetune`: the guide's training flags made real (train/trainer.h).
#include <iostream>
#include <memory>

#include "amp/loss_scaler.h"
#include "cli/commands.h"
#include "cli/common_flags.h"
#include "common/error.h"
#include "engine/cpu_setup.h"
#include "train/trainer.h"

namespace ptinfer::cli {
namespace {

struct FinetuneFlags {
  CommonFlags common;
  std::string data;
  int batch_size = 32;
  int workers = 0;  // 0: the usable cores
  int print_freq = 10;
  int epochs = 1;
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 1e-4;
  bool nesterov = false;
  bool head_only = false;
  bool no_decay_bn = false;
  bool reset_head = false;
  std::string augment = "none";
  bool no_shuffle = false;
  uint64_t seed = 0;
  std::string output = "checkpoint.pth.tar";
  bool save_optimizer = false;
  std::string loss_scale;  // "": Apex's default for --amp
  std::optional<double> init_loss_scale, growth_factor, backoff_factor, min_scale, max_scale;
  std::optional<int64_t> scale_window;
};

// --loss-scale and the dynamic scaler's knobs; the knobs need a dynamic scale.
std::optional<amp::LossScalerOptions> loss_scale_options(const FinetuneFlags& f) {
  bool knobs = f.init_loss_scale || f.growth_factor || f.backoff_factor || f.min_scale ||
               f.max_scale || f.scale_window;
  if (f.loss_scale.empty() && !knobs) return std::nullopt;
  amp::LossScalerOptions o = f.loss_scale.empty() ? amp::LossScalerOptions{}
                                                  : amp::parse_loss_scale(f.loss_scale);
  if (!o.dynamic && knobs) {
    throw Error(ErrorKind::kInvalidArgument,
                "--init-loss-scale, --scale-window, --scale-growth-factor, "
                "--scale-backoff-factor, --min-loss-scale and --max-loss-scale need "
                "--loss-scale dynamic");
  }
  if (f.init_loss_scale) o.init_scale = *f.init_loss_scale;
  if (f.growth_factor) o.growth_factor = *f.growth_factor;
  if (f.backoff_factor) o.backoff_factor = *f.backoff_factor;
  if (f.min_scale) o.min_scale = *f.min_scale;
  if (f.max_scale) o.max_scale = *f.max_scale;
  if (f.scale_window) o.growth_interval = *f.scale_window;
  amp::LossScaler check(o);  // throws Error(kInvalidArgument) for bad knob values
  if (o.init_scale < o.min_scale || o.init_scale > o.max_scale) {
    throw Error(ErrorKind::kInvalidArgument,
                "the initial loss scale must lie in [--min-loss-scale, --max-loss-scale]");
  }
  return o;
}

}  // namespace

CommandRunner add_finetune_command(CLI::App& app) {
  auto flags = std::make_shared<FinetuneFlags>();
  CLI::App* cmd = app.add_subcommand(
      "finetune",
      "Fine-tune a checkpoint on an ImageFolder (SGD, the guide's parameter groups, --amp, loss "
      "scaling) and write a checkpoint torch.load and validate read");
  cmd->allow_extras();
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  add_common_flags(*cmd, flags->common);
  cmd->add_option("--data", flags->data, "dataset folder; DIR/train is used when it exists")
      ->required();
  cmd->add_option("-b,--batch_size,--batch-size", flags->batch_size, "images per batch")
      ->capture_default_str();
  cmd->add_option("-j,--workers", flags->workers, "image loading threads (default: usable cores)");
  cmd->add_option("-p,--print-freq", flags->print_freq, "progress line every N batches (0: none)")
      ->capture_default_str();
  cmd->add_option("--epochs", flags->epochs, "epochs to run")->capture_default_str();
  cmd->add_option("--lr,--learning_rate,--learning-rate", flags->lr, "learning rate")
      ->capture_default_str();
  cmd->add_option("--momentum", flags->momentum, "SGD momentum")->capture_default_str();
  cmd->add_option("--wd,--weight_decay,--weight-decay", flags->weight_decay,
                  "weight decay of every parameter except biases (the guide's groups)")
      ->capture_default_str();
  cmd->add_flag("--nesterov", flags->nesterov, "Nesterov momentum");
  cmd->add_flag("--head-only", flags->head_only,
                "train the final fc only; the rest is frozen and BatchNorm stays in eval mode");
  cmd->add_flag("--no-decay-bn", flags->no_decay_bn,
                "no weight decay on BatchNorm weights either (the guide decays them)");
  cmd->add_flag("--reset-head", flags->reset_head,
                "replace the head with a new one, one output per class folder (seeded by --seed)");
  cmd->add_option("--augment", flags->augment,
                  "none: the eval transform (Resize, CenterCrop) only; flip: plus a seeded random "
                  "horizontal flip")
      ->capture_default_str();
  cmd->add_flag("--no-shuffle", flags->no_shuffle,
                "visit the images in the folder's order every epoch (default: seeded shuffle)");
  cmd->add_option("--seed", flags->seed, "seed of the shuffle, the flips and a new head")
      ->capture_default_str();
  cmd->add_option("--output", flags->output, "checkpoint to write (after every epoch)")
      ->capture_default_str();
  cmd->add_flag("--save-optimizer", flags->save_optimizer,
                "also save the SGD state (momentum buffers) as 'optimizer'; torch 1.13's "
                "torch.load(weights_only=True) cannot read such a file (floats), torch 2.x can");
  cmd->add_option("--loss-scale", flags->loss_scale,
                  "N (static) or dynamic (default: dynamic for O1/O2, 1 for O0/O3, as Apex)");
  cmd->add_option("--init-loss-scale", flags->init_loss_scale,
                  "dynamic: the initial scale (default 65536)");
  cmd->add_option("--scale-window", flags->scale_window,
                  "dynamic: good steps in a row before the scale grows (default 2000)");
  cmd->add_option("--scale-growth-factor", flags->growth_factor, "dynamic: growth (default 2)");
  cmd->add_option("--scale-backoff-factor", flags->backoff_factor,
                  "dynamic: backoff on overflow (default 0.5)");
  cmd->add_option("--min-loss-scale", flags->min_scale, "dynamic: lower bound (default 1)");
  cmd->add_option("--max-loss-scale", flags->max_scale, "dynamic: upper bound (default 2^24)");

  return [cmd, flags](const runtime::RuntimeConfig& config) -> int {
    if (!cmd->parsed()) return -1;
    if (report_unknown_args(*cmd)) return 2;
    train::FinetuneOptions o;
    o.data = flags->data;
    o.model = engine_options(flags->common, config);
    o.preprocess = preprocess_options(flags->common);
    const app::PreprocessingOverrides given = preprocessing_choice(flags->common).overrides;
    o.crop_size_given = given.crop_size.has_value();
    o.resize_size_given = given.resize_size.has_value();
    o.model.input_size = o.preprocess.crop_size;
    if (flags->augment == "flip") {
      o.augment_flip = true;
    } else if (flags->augment != "none") {
      throw Error(ErrorKind::kInvalidArgument,
                  "--augment: expected none or flip, got '" + flags->augment + "'");
    }
    o.shuffle = !flags->no_shuffle;
    o.seed = flags->seed;
    o.epochs = flags->epochs;
    o.batch_size = flags->batch_size;
    o.workers = flags->workers > 0 ? flags->workers : engine::usable_cores();
    o.task_queue = config.task_queue;
    o.print_freq = flags->print_freq;
    o.lr = flags->lr;
    o.momentum = flags->momentum;
    o.weight_decay = flags->weight_decay;
    o.nesterov = flags->nesterov;
    o.head_only = flags->head_only;
    o.no_decay_batch_norm = flags->no_decay_bn;
    o.reset_head = flags->reset_head;
    o.loss_scale = loss_scale_options(*flags);
    o.output = flags->output;
    o.save_optimizer = flags->save_optimizer;
    train::run_finetune(o, std::cout);
    return 0;
  };
}

}  // namespace ptinfer::cli
