// One table from architecture name (torchvision's function name) to factory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "models/classifier.h"

namespace ptinfer::models {

// Sorted names of every architecture the registry knows.
std::vector<std::string> model_names();

// A freshly initialised model of architecture `arch` with a head of `num_classes` outputs, as
// torchvision.models.<arch>(num_classes=num_classes); with Init::kSkip, without torchvision's
// random initialisation (classifier.h). Throws Error(kNotFound) listing the known names when
// `arch` is unknown, Error(kInvalidArgument) when num_classes < 1.
std::shared_ptr<ImageClassifier> create_model(const std::string& arch, int64_t num_classes,
                                              Init init = Init::kTorchvision);

// File name torchvision's default weights for `arch` have in the torch hub cache, e.g.
// "resnet50-11ad3fa6.pth" (0.14's DEFAULT is IMAGENET1K_V2). Throws like create_model for unknown
// names.
std::string pretrained_file_name(const std::string& arch);

// The state-dict key of the classification head's weight ("fc.weight" for ResNets), from whose
// first dimension num_classes is read.
std::string head_weight_key(const std::string& arch);

}  // namespace ptinfer::models
