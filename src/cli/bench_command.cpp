#include <iostream>
#include <memory>

#include "app/bench.h"
#include "cli/commands.h"
#include "cli/common_flags.h"

namespace ptinfer::cli {
namespace {

struct BenchFlags {
  CommonFlags common;
  std::vector<int> batch_sizes = {1, 32};
  int warmup = 3;
  int iters = 10;
  double seconds = 0;
  std::string json_path;
  bool profile = false;
};

}  // namespace

CommandRunner add_bench_command(CLI::App& app) {
  auto flags = std::make_shared<BenchFlags>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Latency and img/s of a model on this machine (random input, no decoding)");
  cmd->allow_extras();
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  add_common_flags(*cmd, flags->common);
  cmd->add_option("-b,--batch-size,--batch_size", flags->batch_sizes,
                  "batch sizes to measure (repeatable, or several values)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->capture_default_str();
  cmd->add_option("--warmup", flags->warmup, "untimed calls per batch size")->capture_default_str();
  cmd->add_option("--iters", flags->iters, "timed calls per batch size")->capture_default_str();
  cmd->add_option("--seconds", flags->seconds, "time each batch size for at least this long");
  cmd->add_option("--json", flags->json_path, "write the results as JSON");
  cmd->add_flag("--profile", flags->profile,
                "print the time per node kind of the fast path's graph (oneDNN kernels with "
                "their implementation; the other kinds run LibTorch's kernels)");

  return [cmd, flags](const runtime::RuntimeConfig& config) -> int {
    if (!cmd->parsed()) return -1;
    if (report_unknown_args(*cmd)) return 2;
    app::BenchOptions o;
    o.engine = engine_options(flags->common, config);
    o.image_size = preprocess_options(flags->common).crop_size;
    o.engine.input_size = o.image_size;
    o.batch_sizes = flags->batch_sizes;
    o.warmup = flags->warmup;
    o.iters = flags->iters;
    o.seconds = flags->seconds;
    o.json_path = flags->json_path;
    o.profile = flags->profile;
    app::run_bench(o, std::cout);
    return 0;
  };
}

}  // namespace ptinfer::cli
