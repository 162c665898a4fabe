#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/common_flags.h"
#include "common/error.h"
#include "serve/model_store.h"
#include "serve/server.h"

namespace ptinfer::cli {
namespace {

struct ServeFlags {
  CommonFlags common;
  std::vector<std::string> models;
  std::string model_store;
  serve::BatcherOptions batching;  // defaults of every model
  serve::ServeOptions serve;  // host, port, limits and batching, filled by the flags directly
};

}  // namespace

CommandRunner add_serve_command(CLI::App& app) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "HTTP inference server (TorchServe and KServe v2 APIs) with dynamic batching");
  cmd->allow_extras();
  cmd->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  add_common_flags(*cmd, flags->common);
  serve::ServeOptions& s = flags->serve;
  cmd->add_option("--model", flags->models,
                  "NAME=CHECKPOINT[,arch=ARCH,labels=FILE], repeatable (arch default: -a)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("--model-store", flags->model_store,
                  "one sub-folder per model, each with a config.json (README: model store); the "
                  "flags below are their defaults");
  serve::BatcherOptions& b = flags->batching;
  cmd->add_option("--host", s.host, "listen address")->capture_default_str();
  cmd->add_option("--port", s.port, "listen port (0: any free port, printed)")
      ->capture_default_str();
  cmd->add_option("--max-batch-size", b.max_batch_size, "most requests per model call")
      ->capture_default_str();
  cmd->add_option("--max-queue-delay-us", b.max_queue_delay_us,
                  "longest wait for a batch to fill, microseconds")
      ->capture_default_str();
  cmd->add_option("--queue-size", b.queue_size,
                  "most requests waiting per model; more get 503")
      ->capture_default_str();
  cmd->add_option("--request-timeout-ms", b.request_timeout_ms,
                  "a request not answered by then gets 503")
      ->capture_default_str();
  cmd->add_option("--http-threads", s.http_threads, "request threads (a fixed pool)")
      ->capture_default_str();
  cmd->add_option("--max-connections", s.max_connections,
                  "most connections open at once (served or waiting for a thread, >= "
                  "--http-threads); further clients wait to be accepted")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", s.max_body_bytes, "larger request bodies get 413")
      ->capture_default_str();
  cmd->add_option("--read-timeout-s", s.read_timeout_s, "disconnect clients silent this long")
      ->capture_default_str();
  cmd->add_option("--write-timeout-s", s.write_timeout_s,
                  "disconnect clients not reading this long")
      ->capture_default_str();

  return [cmd, flags](const runtime::RuntimeConfig& config) -> int {
    if (!cmd->parsed()) return -1;
    if (report_unknown_args(*cmd)) return 2;
    if (!flags->common.resume.empty() || flags->common.pretrained) {
      throw Error(ErrorKind::kInvalidArgument,
                  "serve takes its models from --model NAME=CHECKPOINT or --model-store DIR, not "
                  "--resume/--pretrained");
    }
    if (flags->serve.http_threads < 1 || flags->serve.read_timeout_s < 1 ||
        flags->serve.write_timeout_s < 1 || flags->serve.max_body_bytes < 1) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--http-threads, --read-timeout-s, --write-timeout-s and --max-body-bytes must "
                  "be >= 1");
    }
    if (flags->serve.max_connections < flags->serve.http_threads) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--max-connections (" + std::to_string(flags->serve.max_connections) +
                      ") must be >= --http-threads (" + std::to_string(flags->serve.http_threads) +
                      ")");
    }
    if (flags->models.empty() && flags->model_store.empty()) {
      throw Error(ErrorKind::kInvalidArgument,
                  "give the models to serve: --model NAME=CHECKPOINT (repeatable) and/or "
                  "--model-store DIR");
    }
    if (flags->serve.port < 0 || flags->serve.port > 65535) {
      throw Error(ErrorKind::kInvalidArgument, "--port must be in [0, 65535]");
    }
    serve::ServeOptions o = flags->serve;
    const engine::EngineOptions eo = engine_options(flags->common, config);
    o.device = eo.device;
    serve::ModelSpec defaults;
    defaults.arch = eo.arch;
    defaults.amp = eo.amp;
    // Resolved per model, for its own arch (--preprocessing model: each arch's preset).
    defaults.preprocessing = preprocessing_choice(flags->common);
    defaults.batching = flags->batching;
    for (const auto& m : flags->models) o.models.push_back(serve::parse_model_spec(m, defaults));
    if (!flags->model_store.empty()) {
      for (auto& spec : serve::read_model_store(flags->model_store, defaults)) {
        o.models.push_back(std::move(spec));
      }
    }
    return serve::run_server(o);
  };
}

}  // namespace ptinfer::cli
