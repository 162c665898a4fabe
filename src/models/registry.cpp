#include "models/registry.h"

#include <map>

#include "common/error.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

// The one table, by name (std::map keeps names sorted); built once from the families' rows.
const std::map<std::string, ArchSpec>& table() {
  static const std::map<std::string, ArchSpec> kTable = [] {
    std::map<std::string, ArchSpec> t;
    for (auto family :
         {alexnet_archs, convnext_archs, densenet_archs, efficientnet_archs, googlenet_archs,
          inception_archs, maxvit_archs, mnasnet_archs, mobilenet_v2_archs, mobilenet_v3_archs,
          regnet_archs, resnet_archs, shufflenet_v2_archs, squeezenet_archs, swin_archs,
          vgg_archs, vit_archs}) {
      for (ArchSpec& spec : family()) {
        const std::string name = spec.name;
        if (!t.emplace(name, std::move(spec)).second) {
          throw Error(ErrorKind::kInternal, "architecture '" + name + "' is defined twice");
        }
      }
    }
    return t;
  }();
  return kTable;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, spec] : table()) names.push_back(name);
  return names;  // already sorted: the table is a std::map
}

std::vector<std::string> family_archs(const std::string& family) {
  std::vector<std::string> names;
  for (const auto& [name, spec] : table()) {
    if (spec.family == family) names.push_back(name);
  }
  return names;
}

const ArchSpec& arch_spec(const std::string& arch) {
  const auto& t = table();
  auto it = t.find(arch);
  if (it == t.end()) {
    std::string known;
    for (const auto& name : model_names()) known += (known.empty() ? "" : ", ") + name;
    throw Error(ErrorKind::kNotFound, "unknown architecture '" + arch + "'; known: " + known);
  }
  return it->second;
}

int64_t module_version(const std::string& arch, const std::string& path,
                       const torch::nn::Module& module) {
  const ArchSpec& spec = arch_spec(arch);
  if (spec.module_version) {
    if (const int64_t v = spec.module_version(path); v != 0) return v;
  }
  const bool batch_norm = dynamic_cast<const torch::nn::BatchNorm1dImpl*>(&module) != nullptr ||
                          dynamic_cast<const torch::nn::BatchNorm2dImpl*>(&module) != nullptr ||
                          dynamic_cast<const torch::nn::BatchNorm3dImpl*>(&module) != nullptr;
  return batch_norm ? 2 : 1;
}

bool weights_fix_input_size(const std::string& arch) {
  const auto& t = table();
  auto it = t.find(arch);
  return it != t.end() && static_cast<bool>(it->second.image_size_of);
}

std::shared_ptr<ImageClassifier> create_model(const std::string& arch, const ModelConfig& config) {
  const ArchSpec& spec = arch_spec(arch);
  if (config.num_classes < 1) {
    throw Error(ErrorKind::kInvalidArgument, "num_classes for '" + arch + "' must be >= 1, got " +
                                                 std::to_string(config.num_classes));
  }
  return spec.factory(config);
}

std::shared_ptr<ImageClassifier> create_model(const std::string& arch, int64_t num_classes,
                                              Init init) {
  ModelConfig config;
  config.num_classes = num_classes;
  config.init = init;
  return create_model(arch, config);
}

std::string pretrained_file_name(const std::string& arch) { return arch_spec(arch).pretrained_file; }

std::string head_weight_key(const std::string& arch) { return arch_spec(arch).head_weight_key; }

std::string current_key(const std::string& arch, const std::string& key) {
  const ArchSpec& spec = arch_spec(arch);
  return spec.current_key ? spec.current_key(key) : key;
}

size_t rename_legacy_keys(const std::string& arch,
                          std::vector<std::pair<std::string, torch::Tensor>>& state_dict) {
  const ArchSpec& spec = arch_spec(arch);
  if (!spec.current_key) return 0;
  size_t renamed = 0;
  for (auto& entry : state_dict) {
    std::string name = spec.current_key(entry.first);
    if (name != entry.first) {
      entry.first = std::move(name);
      ++renamed;
    }
  }
  return renamed;
}

}  // namespace ptinfer::models
