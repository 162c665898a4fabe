// The subcommands. Each registers its flags on the top-level CLI11 app and returns a function
// that runs it after parsing (returning the process exit code).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

#include "runtime/env_config.h"

namespace ptinfer::cli {

using CommandRunner = std::function<int(const runtime::RuntimeConfig& config)>;

// `ptinfer validate`: the guide's validation sample.
CommandRunner add_validate_command(CLI::App& app);

// `ptinfer predict`: top-k labels for image files.
CommandRunner add_predict_command(CLI::App& app);

// `ptinfer bench`: latency and throughput of the Engine on this machine.
CommandRunner add_bench_command(CLI::App& app);

// `ptinfer inspect FILE [--json]`: a checkpoint's format, keys, metadata and matching models.
CommandRunner add_inspect_command(CLI::App& app);

// `ptinfer convert IN OUT.safetensors`: a checkpoint's state dict written as safetensors.
CommandRunner add_convert_command(CLI::App& app);

// `ptinfer finetune`: fine-tune a checkpoint on an ImageFolder and write a guide-format checkpoint.
CommandRunner add_finetune_command(CLI::App& app);

// `ptinfer models [--json]`: the architectures with family, parameters, presets, fast path.
CommandRunner add_models_command(CLI::App& app);

// `ptinfer serve`: the HTTP inference server with dynamic batching.
CommandRunner add_serve_command(CLI::App& app);

}  // namespace ptinfer::cli
