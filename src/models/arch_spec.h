// One row of the architecture table: what the registry knows of an architecture. Each family's
// file (resnet.cpp, vgg.cpp, ...) returns its rows from the function families.h declares.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/classifier.h"

namespace ptinfer::models {

// The preprocessing torchvision's DEFAULT weights of an architecture declare
// (weights.transforms(): ImageClassification's resize_size, crop_size, interpolation, mean, std).
struct PresetPreprocessing {
  int64_t resize_size = 256;
  int64_t crop_size = 224;
  std::string interpolation = "bilinear";  // "bilinear" or "bicubic"
  std::array<double, 3> mean = {0.485, 0.456, 0.406};
  std::array<double, 3> std = {0.229, 0.224, 0.225};
};

using ModelFactory = std::function<std::shared_ptr<ImageClassifier>(const ModelConfig&)>;

struct ArchSpec {
  std::string name;             // torchvision's builder name, e.g. "mobilenet_v3_large"
  std::string family;           // the file it is defined in, e.g. "mobilenet_v3"
  ModelFactory factory;
  std::string pretrained_file;  // basename of <Arch>_Weights.DEFAULT.url (the hub cache name)
  std::string head_weight_key;  // the classifier's weight, whose first dimension is num_classes
  PresetPreprocessing preset;
  // Maps a key older torchvision releases wrote to today's name (legacy_keys.h), as the
  // family's _load_from_state_dict does; empty: keys are taken as they are.
  std::function<std::string(const std::string&)> current_key;
  // The input size a checkpoint's own shapes fix (ViT: its positional embedding's length), 0
  // when they fix none; empty: the architecture takes any size. The registry builds the model
  // for that size (ModelConfig::image_size) instead of failing the load on a shape mismatch.
  std::function<int64_t(const std::vector<std::pair<std::string, torch::Tensor>>&)>
      image_size_of;
  // Parameters torchvision's builder drops once it has loaded the DEFAULT weights, so that its
  // declared num_params leaves them out (googlenet's never-run auxiliary heads, kept here).
  std::vector<std::string> uncounted_prefixes;
  // The _version torchvision's module at `path` (a named_modules() name, "" for the root) has,
  // for the state dict's _metadata, where it is not PyTorch's default: MNASNet's root (2;
  // torchvision refuses a state dict without it), ViT's MLPBlock and DenseNet's _DenseBlock
  // (2). Return 0 for "the default"; empty: every module has the default. BatchNorm's 2 holds
  // for every family (models::module_version).
  std::function<int64_t(const std::string&)> module_version;
};

}  // namespace ptinfer::models
