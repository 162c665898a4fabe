#include "models/registry.h"

#include <algorithm>
#include <functional>
#include <map>

#include "common/error.h"
#include "models/resnet.h"

namespace ptinfer::models {
namespace {

struct Entry {
  // torchvision's signature: (num_classes, zero_init_residual, init); the registry passes false.
  std::function<std::shared_ptr<ImageClassifier>(int64_t num_classes, bool zero_init_residual,
                                                 Init init)>
      factory;
  // Basename of torchvision 0.14's <Arch>_Weights.DEFAULT url: the name the file has in
  // $TORCH_HOME/hub/checkpoints. ResNet-50 and most larger nets default to the V2 recipe.
  std::string pretrained_file;
  std::string head_weight_key;
};

// The one table; adding an architecture is one row here. std::map keeps names sorted.
const std::map<std::string, Entry>& table() {
  static const std::map<std::string, Entry> kTable = {
      {"resnet18", {resnet18, "resnet18-f37072fd.pth", "fc.weight"}},
      {"resnet34", {resnet34, "resnet34-b627a593.pth", "fc.weight"}},
      {"resnet50", {resnet50, "resnet50-11ad3fa6.pth", "fc.weight"}},
      {"resnet101", {resnet101, "resnet101-cd907fc2.pth", "fc.weight"}},
      {"resnet152", {resnet152, "resnet152-f82ba261.pth", "fc.weight"}},
      {"resnext50_32x4d", {resnext50_32x4d, "resnext50_32x4d-1a0047aa.pth", "fc.weight"}},
      {"resnext101_32x8d", {resnext101_32x8d, "resnext101_32x8d-110c445d.pth", "fc.weight"}},
      {"resnext101_64x4d", {resnext101_64x4d, "resnext101_64x4d-173b62eb.pth", "fc.weight"}},
      {"wide_resnet50_2", {wide_resnet50_2, "wide_resnet50_2-9ba9bcbe.pth", "fc.weight"}},
      {"wide_resnet101_2", {wide_resnet101_2, "wide_resnet101_2-d733dc28.pth", "fc.weight"}},
  };
  return kTable;
}

const Entry& find(const std::string& arch) {
  const auto& t = table();
  auto it = t.find(arch);
  if (it == t.end()) {
    std::string known;
    for (const auto& name : model_names()) known += (known.empty() ? "" : ", ") + name;
    throw Error(ErrorKind::kNotFound, "unknown architecture '" + arch + "'; known: " + known);
  }
  return it->second;
}

}  // namespace

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& [name, entry] : table()) names.push_back(name);
  return names;  // already sorted: the table is a std::map
}

std::shared_ptr<ImageClassifier> create_model(const std::string& arch, int64_t num_classes,
                                              Init init) {
  const Entry& entry = find(arch);
  if (num_classes < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "num_classes for '" + arch + "' must be >= 1, got " + std::to_string(num_classes));
  }
  return entry.factory(num_classes, /*zero_init_residual=*/false, init);
}

std::string pretrained_file_name(const std::string& arch) { return find(arch).pretrained_file; }

std::string head_weight_key(const std::string& arch) { return find(arch).head_weight_key; }

}  // namespace ptinfer::models
