// State-dict keys that older torchvision releases wrote and that torchvision itself renames on
// load (each model's _load_from_state_dict), so that such checkpoints load here as there.
// Each function maps one key to its current name, returning other keys unchanged.
#pragma once

#include <string>

namespace ptinfer::models {

// DenseNet before torchvision 0.3 (_load_state_dict's regex): "...denselayerN.norm.1.weight" ->
// "...denselayerN.norm1.weight", likewise relu/conv and 2, for weight, bias and running stats.
std::string densenet_current_key(const std::string& key);

// ViT's MLPBlock before version 2: "...mlp.linear_1.weight" -> "...mlp.0.weight" and
// "...mlp.linear_2.{weight,bias}" -> "...mlp.3.{weight,bias}".
std::string vit_current_key(const std::string& key);

}  // namespace ptinfer::models
