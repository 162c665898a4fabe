// `ptinfer serve --model-store DIR`: a model repository in the spirit of Triton's. Every
// sub-folder of DIR is one model, named after the folder, described by DIR/NAME/config.json:
//
//   {
//     "name": "r18",                          optional; must equal the folder name
//     "arch": "resnet18",                     registry name (default: the command line's -a)
//     "checkpoint": "model.pth",              required; relative to the folder, or absolute
//     "checkpoint_key": "state_dict",         optional: where the weights sit in the file
//     "labels": "index_to_name.json",         optional; relative to the folder, or absolute
//     "amp": "O0",                            optional: O0..O3 (amp/policy.h)
//     "amp_dtype": "bf16",                    optional: bf16 or fp16
//     "preprocessing": "model",               or "guide", or an object:
//     "preprocessing": {"resize_size": 256, "crop_size": 224,
//                       "interpolation": "bilinear",    or "bicubic" (Resize's filter)
//                       "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
//     "batching": {"max_batch_size": 8, "max_queue_delay_us": 2000, "queue_size": 64,
//                  "request_timeout_ms": 30000}
//   }
//
// "preprocessing" (app/preprocessing.h): "model" is the arch's preset (torchvision's DEFAULT
// weights' transforms), "guide" Resize(256) + CenterCrop(224), bilinear, ImageNet mean/std, each
// as it is (the command line's --resize-size .. --std do not apply); an object's fields replace
// those fields of what the command line gives (--preprocessing and its flags; by default the
// guide's), the others stay.
//
// Every key but "checkpoint" is optional and defaults to the command line's value. Unknown
// keys, wrong types and out-of-range values are errors, so that a typo never silently falls
// back to a default. Sub-folders whose name starts with '.' and plain files in DIR are ignored.
#pragma once

#include <string>
#include <vector>

#include "serve/model_spec.h"

namespace ptinfer::serve {

// Reads one model folder's config.json; fields it does not set come from `defaults`, and
// `preprocess` is resolved for the model's arch (resolve_spec_preprocessing). Throws
// Error(kInvalidArgument) whose message names the config file and the key (as "batching.
// queue_size") for invalid JSON, an unknown key, a wrong type or range, a "preprocessing" string
// other than "guide" and "model", a name that differs from the folder's, or a checkpoint /
// labels file that does not exist.
ModelSpec read_model_config(const std::string& folder, const ModelSpec& defaults);

// Every model of the store `dir`, sorted by name. Throws Error(kInvalidArgument) naming the
// folder when `dir` is not a directory, holds no model folder, a folder name is not a valid
// model name, or a folder has no config.json; and whatever read_model_config throws.
std::vector<ModelSpec> read_model_store(const std::string& dir, const ModelSpec& defaults);

// Checks what can be checked before loading: a known arch, the checkpoint and labels files exist
// and are not directories, batching values in range. Throws Error(kInvalidArgument) starting
// with spec.source. Used for --model specs too, so that every model fails before serving.
void check_model_spec(const ModelSpec& spec);

}  // namespace ptinfer::serve
