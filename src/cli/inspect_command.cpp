// `ptinfer inspect FILE [--json]`: what a checkpoint holds (format, keys, metadata, tensor and
// parameter counts per dtype, the head) and which registered architectures its state dict fits.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "checkpoint/checkpoint.h"
#include "checkpoint/summary.h"
#include "cli/commands.h"
#include "common/error.h"
#include "models/arch_spec.h"
#include "models/registry.h"

namespace ptinfer::cli {
namespace {

struct InspectFlags {
  std::string file;
  bool json = false;
  std::string checkpoint_key;
  bool no_match = false;  // --no-match: skip building candidate models
};

// The registered architecture whose model has exactly the state dict's keys and shapes (built
// with the head's number of classes), or "" when none does. `want`: the state dict's name ->
// shape. Registered architectures differ in keys or shapes, so at most one matches. Only the
// architectures whose head weight (registry head_weight_key) the state dict holds, with
// num_classes rows, are built (the ResNets, RegNets, ShuffleNets, GoogLeNet and Inception
// share fc.weight: 31 candidates at most, one for most heads), the checkpoint's own `arch`
// first, each with uninitialised parameters (Init::kSkip: nothing is drawn or written), at the
// input size the checkpoint fixes for it (`image_sizes`: arch -> ArchSpec::image_size_of of the
// state dict; a ViT trained at 384 has a longer positional embedding).
using Shapes = std::map<std::string, std::vector<int64_t>>;

std::string matching_architecture(const Shapes& want, int64_t num_classes,
                                  const std::optional<std::string>& hint,
                                  const std::map<std::string, int64_t>& image_sizes) {
  std::vector<std::string> order;
  for (const std::string& arch : models::model_names()) {
    auto head = want.find(models::head_weight_key(arch));
    if (head != want.end() && !head->second.empty() && head->second[0] == num_classes) {
      order.push_back(arch);
    }
  }
  if (hint) {
    auto it = std::find(order.begin(), order.end(), *hint);
    if (it != order.end()) std::rotate(order.begin(), it, it + 1);
  }
  for (const std::string& arch : order) {
    models::ModelConfig config;
    config.num_classes = num_classes;
    config.init = models::Init::kSkip;
    auto size = image_sizes.find(arch);
    if (size != image_sizes.end()) config.image_size = size->second;
    auto model = models::create_model(arch, config);
    if (model->named_parameters().size() + model->named_buffers().size() != want.size()) continue;
    Shapes have;
    for (const auto& p : model->named_parameters()) have[p.key()] = p.value().sizes().vec();
    for (const auto& b : model->named_buffers()) have[b.key()] = b.value().sizes().vec();
    if (have == want) return arch;
  }
  return "";
}

int64_t total_bytes(const checkpoint::StateDictSummary& s) {
  int64_t bytes = 0;
  for (const auto& entry : s.per_dtype) bytes += entry.second.bytes;
  return bytes;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "none" : out;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

int run_inspect(const InspectFlags& flags) {
  checkpoint::LoadOptions options;
  options.checkpoint_key = flags.checkpoint_key;
  const auto start = std::chrono::steady_clock::now();
  checkpoint::Checkpoint ckpt = checkpoint::load_checkpoint(flags.file, options);
  const double load_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::string head_key;
  if (ckpt.arch) {
    try {
      head_key = models::head_weight_key(*ckpt.arch);
    } catch (const Error&) {
      // An architecture we do not know: find the head by its usual names.
    }
  }
  checkpoint::StateDictSummary s = checkpoint::summarize_state_dict(ckpt.state_dict, head_key);
  const int64_t num_classes = s.head_shape.empty() ? 0 : s.head_shape[0];
  Shapes shapes;
  for (const auto& [name, t] : ckpt.state_dict) shapes[name] = t.sizes().vec();
  std::map<std::string, int64_t> image_sizes;
  for (const std::string& arch : models::model_names()) {
    if (!models::weights_fix_input_size(arch)) continue;
    const int64_t size = models::arch_spec(arch).image_size_of(ckpt.state_dict);
    if (size > 0) image_sizes[arch] = size;
  }
  // Only shapes are needed from here on: free the tensors before building candidate models, so
  // peak memory is the larger of the two, not their sum.
  ckpt.state_dict.clear();
  std::string arch_match;
  // bench/checkpoint_load.py reads this line (PTINFER_LOG_STDOUT=1).
  spdlog::info("inspect: read {} ({} tensors, {} bytes) in {:.1f} ms", flags.file, s.tensors,
               total_bytes(s), load_ms);
  if (num_classes > 0 && !flags.no_match) {
    arch_match = matching_architecture(shapes, num_classes, ckpt.arch, image_sizes);
  }

  if (flags.json) {
    nlohmann::json j;
    j["file"] = flags.file;
    j["format"] = ckpt.format;
    j["top_level_keys"] = ckpt.top_level_keys;
    j["state_dict_key"] = ckpt.state_dict_key;
    j["stripped_prefixes"] = ckpt.stripped_prefixes;
    nlohmann::json meta = nlohmann::json::object();
    if (ckpt.epoch) meta["epoch"] = *ckpt.epoch;
    if (ckpt.arch) meta["arch"] = *ckpt.arch;
    if (ckpt.best_acc1) meta["best_acc1"] = *ckpt.best_acc1;
    if (!ckpt.classes.empty()) meta["classes"] = ckpt.classes;
    j["metadata"] = meta;
    j["other_keys"] = ckpt.other_keys;
    if (!ckpt.script_class.empty()) j["class"] = ckpt.script_class;
    if (!ckpt.amp.empty()) {
      nlohmann::json amp = nlohmann::json::object();
      for (const auto& scaler : ckpt.amp) {
        nlohmann::json entry = {{"loss_scale", *scaler.loss_scale}};
        if (scaler.unskipped) entry["unskipped"] = *scaler.unskipped;
        amp[scaler.name] = entry;
      }
      j["amp"] = amp;
    }
    j["tensors"] = s.tensors;
    j["elements"] = s.elements;
    j["parameters"] = s.parameters;
    nlohmann::json dtypes = nlohmann::json::object();
    for (const auto& [name, d] : s.per_dtype) {
      dtypes[name] = {{"tensors", d.tensors}, {"elements", d.elements}, {"bytes", d.bytes}};
    }
    j["dtypes"] = dtypes;
    j["head"] = s.head_key ? nlohmann::json{{"key", *s.head_key}, {"shape", s.head_shape}}
                           : nlohmann::json(nullptr);
    j["num_classes"] = num_classes > 0 ? nlohmann::json(num_classes) : nlohmann::json(nullptr);
    j["architecture"] = arch_match.empty() ? nlohmann::json(nullptr) : nlohmann::json(arch_match);
    std::cout << j.dump(1) << std::endl;
    return 0;
  }
  std::ostringstream out;
  out << "file: " << flags.file << "\n";
  out << "format: " << ckpt.format << "\n";
  if (!ckpt.script_class.empty()) {
    out << "class: " << ckpt.script_class
        << " (TorchScript; run it with --arch torchscript, which executes its code)\n";
  }
  std::vector<std::string> keys(
      ckpt.top_level_keys.begin(),
      ckpt.top_level_keys.begin() + std::min<size_t>(ckpt.top_level_keys.size(), 10));
  if (ckpt.top_level_keys.size() > 10) {
    keys.push_back("... (" + std::to_string(ckpt.top_level_keys.size() - 10) + " more)");
  }
  out << "top-level keys: " << join(keys) << "\n";
  out << "state dict: "
      << (!ckpt.script_class.empty()       ? "the module's tensor attributes"
          : ckpt.state_dict_key.empty() ? "the top level"
                                        : "'" + ckpt.state_dict_key + "'");
  if (!ckpt.stripped_prefixes.empty())
    out << " (prefixes removed: " << join(ckpt.stripped_prefixes) << ")";
  out << "\n";
  if (ckpt.epoch) out << "epoch: " << *ckpt.epoch << "\n";
  if (ckpt.arch) out << "arch: " << *ckpt.arch << "\n";
  if (ckpt.best_acc1) out << "best_acc1: " << std::setprecision(17) << *ckpt.best_acc1 << "\n";
  if (!ckpt.classes.empty()) out << "classes: " << ckpt.classes.size() << "\n";
  if (!ckpt.other_keys.empty()) out << "other keys: " << join(ckpt.other_keys) << "\n";
  for (const auto& scaler : ckpt.amp) {
    out << "amp: " << scaler.name << " loss_scale " << *scaler.loss_scale;
    if (scaler.unskipped) out << ", unskipped " << *scaler.unskipped;
    out << " (Apex)\n";
  }
  out << "tensors: " << s.tensors << "\n";
  out << "parameters: " << s.parameters << " (" << s.elements << " elements with buffers)\n";
  for (const auto& [name, d] : s.per_dtype) {
    out << "  " << name << ": " << d.tensors << " tensors, " << d.elements << " elements, "
        << d.bytes << " bytes\n";
  }
  if (s.head_key) {
    out << "head: " << *s.head_key << " " << shape_string(s.head_shape) << " (" << num_classes
        << " classes)\n";
  } else {
    out << "head: not found\n";
  }
  out << "matching architecture: "
      << (flags.no_match ? "not searched (--no-match)" : arch_match.empty() ? "none" : arch_match)
      << "\n";
  std::cout << out.str() << std::flush;
  return 0;
}

}  // namespace

CommandRunner add_inspect_command(CLI::App& app) {
  auto flags = std::make_shared<InspectFlags>();
  CLI::App* cmd = app.add_subcommand(
      "inspect",
      "What a checkpoint holds: format, keys, metadata, tensors, matching architectures");
  cmd->add_option("file", flags->file, "checkpoint (torch.save zip or legacy format, safetensors, torch.jit.save archive)")
      ->required();
  cmd->add_flag("--json", flags->json, "print one JSON object instead of text");
  cmd->add_flag("--no-match", flags->no_match,
                "skip the search for a matching registered architecture (it builds candidate "
                "models)");
  cmd->add_option("--checkpoint-key", flags->checkpoint_key,
                  "top-level key holding the state dict (default: state_dict_ema, model_ema, "
                  "state_dict, model, as timm picks)");
  return [cmd, flags](const runtime::RuntimeConfig&) -> int {
    if (!cmd->parsed()) return -1;
    return run_inspect(*flags);
  };
}

}  // namespace ptinfer::cli
