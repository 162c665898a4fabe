// `ptinfer models [--json] [--gflops] [--nodes] [ARCH...]`: every architecture of the registry (or those
// named) with its family, parameter count (of the 1000-class model), the preprocessing its
// torchvision DEFAULT weights declare, and which form of the fast path runs it (fastpath::fast_path_form). The models are
// built shape-only (Init::kSkip: no weight is drawn or even touched), so listing the giants
// costs no memory to speak of. --gflops adds the multiply-adds (torchvision's GFLOPS) of one
// image at the preset's crop size, counted by tracing a forward (models/forward_trace.h): that
// runs each model once, seconds for the giants. --nodes adds the node kinds of the model's
// general fast-path graph (fastpath::GraphModel, fp32) for one image at the preset's crop size:
// the onednn::* nodes run oneDNN kernels, every other kind LibTorch's kernels inside the graph
// (the nodes that fell back). It builds and runs that graph once per model: seconds for the
// giants, and their weights' memory twice over.
#include <ATen/Context.h>
#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "fastpath/fast_path.h"
#include "fastpath/graph_model.h"
#include "models/forward_trace.h"
#include "models/registry.h"

namespace ptinfer::cli {
namespace {

struct ModelsFlags {
  bool json = false;
  bool gflops = false;
  bool nodes = false;
  std::vector<std::string> archs;  // empty: all
};

struct Row {
  const models::ArchSpec* spec;
  int64_t parameters;
  std::string fast_path_gap;  // "" when the fast path covers the model
  std::string fast_path_form = {};  // fastpath::fast_path_form: "graph", "resnet runner (onednn)"
  double gflops = -1;         // < 0: not counted
  std::map<std::string, int64_t> graph_nodes = {};  // node kind -> count; empty: not built
};

// "53 on oneDNN (convolution 52, linear 1); LibTorch: aten::max_pool2d 1, ..." for `nodes`.
std::string nodes_string(const std::map<std::string, int64_t>& nodes) {
  const std::string onednn = "onednn::";
  int64_t on_onednn = 0, on_libtorch = 0;
  std::ostringstream kernels, fallbacks;
  for (const auto& [kind, count] : nodes) {
    const bool lowered = kind.rfind(onednn, 0) == 0;
    std::ostringstream& out = lowered ? kernels : fallbacks;
    if (out.tellp() > 0) out << ", ";
    out << (lowered ? kind.substr(onednn.size()) : kind) << " " << count;
    (lowered ? on_onednn : on_libtorch) += count;
  }
  std::ostringstream s;
  s << on_onednn << " nodes on oneDNN (" << kernels.str() << "); " << on_libtorch
    << " on LibTorch";
  if (on_libtorch > 0) s << " (" << fallbacks.str() << ")";
  return s.str();
}

// Denormals flushed to zero while it lives (off again after: nothing else in this command
// turns it on): the models run with uninitialised weights, and no denormal may slow a count
// down. at::Context::setFlushDenormal returns whether the CPU supports it, not the old state.
struct FlushingDenormals {
  FlushingDenormals() : supported(at::globalContext().setFlushDenormal(true)) {}
  ~FlushingDenormals() {
    if (supported) at::globalContext().setFlushDenormal(false);
  }
  const bool supported;
};

Row describe(const std::string& arch, bool count_gflops, bool count_nodes) {
  Row row{&models::arch_spec(arch), 0, ""};
  // The model for torchvision's DEFAULT weights (what their num_params counts: vit_h_14's SWAG
  // weights are for 518-pixel inputs, a larger positional embedding than the 224 default).
  models::ModelConfig config;
  config.num_classes = 1000;
  config.init = models::Init::kSkip;
  config.pretrained = true;
  auto model = models::create_model(arch, config);
  // Less what that builder drops after loading (googlenet's auxiliary heads, never run).
  for (const auto& p : model->named_parameters()) {
    bool dropped = false;
    for (const auto& prefix : row.spec->uncounted_prefixes) {
      dropped = dropped || p.key().rfind(prefix, 0) == 0;
    }
    if (!dropped) row.parameters += p.value().numel();
  }
  model->eval();
  fastpath::FastPathOptions options;  // fp32 on the CPU, the default run
  row.fast_path_gap = fastpath::unsupported_reason(*model, options);
  row.fast_path_form = fastpath::fast_path_form(*model, options);
  if (count_gflops) {
    const FlushingDenormals flushing;
    const int64_t crop = row.spec->preset.crop_size;
    const models::ForwardTrace trace = models::trace_forward(*model, torch::zeros({1, 3, crop, crop}));
    row.gflops = static_cast<double>(trace.multiply_adds) / 1e9;
  }
  if (count_nodes) {
    const FlushingDenormals flushing;
    const int64_t crop = row.spec->preset.crop_size;
    fastpath::GraphModel graph(model);
    torch::NoGradGuard no_grad;
    graph.forward(torch::zeros({1, 3, crop, crop}));
    row.graph_nodes = graph.node_kinds();
  }
  return row;
}

std::string preset_string(const models::PresetPreprocessing& p) {
  std::ostringstream s;
  s << "resize " << p.resize_size << " crop " << p.crop_size << " " << p.interpolation;
  return s.str();
}

nlohmann::json to_json(const Row& row) {
  const models::PresetPreprocessing& p = row.spec->preset;
  return {{"name", row.spec->name},
          {"family", row.spec->family},
          {"parameters", row.parameters},
          {"preset_preprocessing",
           {{"resize_size", p.resize_size},
            {"crop_size", p.crop_size},
            {"interpolation", p.interpolation},
            {"mean", p.mean},
            {"std", p.std}}},
          {"pretrained_file", row.spec->pretrained_file},
          {"fast_path", row.fast_path_gap.empty()},
          {"fast_path_gap", row.fast_path_gap},
          {"fast_path_form", row.fast_path_form}};
}

nlohmann::json to_json_with_gflops(const Row& row) {
  nlohmann::json j = to_json(row);
  if (row.gflops >= 0) j["gflops"] = row.gflops;
  if (!row.graph_nodes.empty()) j["graph_nodes"] = row.graph_nodes;
  return j;
}

}  // namespace

CommandRunner add_models_command(CLI::App& app) {
  auto flags = std::make_shared<ModelsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "models", "List the architectures: family, parameters, preset preprocessing, fast path");
  cmd->add_flag("--json", flags->json, "one JSON array on stdout");
  cmd->add_flag("--gflops", flags->gflops,
                "add GFLOPs (multiply-adds) of one image at the preset crop size, counted by "
                "running each model once (seconds for the largest)");
  cmd->add_flag("--nodes", flags->nodes,
                "add the node kinds of the fast path's graph (fp32, one image at the preset crop "
                "size): those on oneDNN kernels and those that fell back to LibTorch's (builds "
                "and runs each model's graph once: seconds for the largest)");
  cmd->add_option("archs", flags->archs, "only these architectures (default: all)");
  return [cmd, flags](const runtime::RuntimeConfig&) -> int {
    if (!cmd->parsed()) return -1;
    const std::vector<std::string> archs =
        flags->archs.empty() ? models::model_names() : flags->archs;
    for (const std::string& arch : archs) models::arch_spec(arch);  // unknown names first
    std::vector<Row> rows;
    for (const std::string& arch : archs) rows.push_back(describe(arch, flags->gflops, flags->nodes));
    if (flags->json) {
      nlohmann::json out = nlohmann::json::array();
      for (const Row& row : rows) out.push_back(to_json_with_gflops(row));
      std::cout << out.dump(1) << std::endl;
      return 0;
    }
    std::cout << std::left << std::setw(20) << "architecture" << std::setw(16) << "family"
              << std::right << std::setw(12) << "parameters" << "  " << std::left
              << std::setw(30) << "preset preprocessing"
              << (flags->gflops ? "  GFLOPs  " : "") << "fast path\n";
    for (const Row& row : rows) {
      std::cout << std::left << std::setw(20) << row.spec->name << std::setw(16)
                << row.spec->family << std::right << std::setw(12) << row.parameters << "  "
                << std::left << std::setw(30) << preset_string(row.spec->preset);
      if (flags->gflops) {
        std::ostringstream g;
        g << std::fixed << std::setprecision(2) << row.gflops;
        std::cout << std::right << std::setw(8) << g.str() << "  " << std::left;
      }
      std::cout << (row.fast_path_gap.empty() ? row.fast_path_form
                                              : "no (" + row.fast_path_gap + ")")
                << "\n";
      if (!row.graph_nodes.empty()) {
        std::cout << "    graph: " << nodes_string(row.graph_nodes) << "\n";
      }
    }
    std::cout << rows.size() << " architectures" << std::endl;
    return 0;
  };
}

}  // namespace ptinfer::cli
