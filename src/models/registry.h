// One table from architecture name (torchvision's builder name) to factory and facts; the rows
// live in each family's file (families.h).
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/arch_spec.h"
#include "models/classifier.h"

namespace ptinfer::models {

// Sorted names of every architecture the registry knows.
std::vector<std::string> model_names();

// Sorted names of the architectures of `family` (ArchSpec::family); empty for an unknown one.
std::vector<std::string> family_archs(const std::string& family);

// The row of `arch`. Throws Error(kNotFound) listing the known names when `arch` is unknown.
const ArchSpec& arch_spec(const std::string& arch);

// Whether weights of `arch` can fix the input size it runs at (ArchSpec::image_size_of: a ViT's
// positional embedding); false for an unknown name.
bool weights_fix_input_size(const std::string& arch);

// The _version PyTorch's state_dict() records in its _metadata for the module at `path` (a
// named_modules() name, "" for the root) of a model of `arch`: the family's own
// (ArchSpec::module_version) where it has one, 2 for BatchNorm (torch.nn's _NormBase), else 1.
// Throws like arch_spec.
int64_t module_version(const std::string& arch, const std::string& path,
                       const torch::nn::Module& module);

// A freshly initialised model of architecture `arch`, as torchvision.models.<arch>(num_classes=
// config.num_classes) (classifier.h for the other fields). Throws like arch_spec for unknown
// names, Error(kInvalidArgument) when num_classes < 1.
std::shared_ptr<ImageClassifier> create_model(const std::string& arch, const ModelConfig& config);

// create_model with only num_classes and init set.
std::shared_ptr<ImageClassifier> create_model(const std::string& arch, int64_t num_classes,
                                              Init init = Init::kTorchvision);

// File name torchvision's default weights for `arch` have in the torch hub cache, e.g.
// "resnet50-11ad3fa6.pth" (0.14's DEFAULT is IMAGENET1K_V2). Throws like arch_spec.
std::string pretrained_file_name(const std::string& arch);

// The state-dict key of the classification head's weight ("fc.weight" for ResNets), from whose
// first dimension num_classes is read. Throws like arch_spec.
std::string head_weight_key(const std::string& arch);

// `key` of a checkpoint for `arch` under today's name: the family's legacy renames
// (ArchSpec::current_key), else `key` itself. Throws like arch_spec.
std::string current_key(const std::string& arch, const std::string& key);

// Renames every key of `state_dict` (a checkpoint::StateDict) with current_key; returns how many
// changed. Throws like arch_spec.
size_t rename_legacy_keys(const std::string& arch,
                          std::vector<std::pair<std::string, torch::Tensor>>& state_dict);

}  // namespace ptinfer::models
