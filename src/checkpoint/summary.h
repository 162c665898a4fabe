// What `ptinfer inspect` reports about a checkpoint's state dict: tensor and element counts per
// dtype and the classification head. Pure bookkeeping over a loaded Checkpoint.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"

namespace ptinfer::checkpoint {

struct DtypeTotals {
  int64_t tensors = 0;
  int64_t elements = 0;
  int64_t bytes = 0;
};

struct StateDictSummary {
  int64_t tensors = 0;
  int64_t elements = 0;    // every tensor, buffers included
  int64_t parameters = 0;  // elements less BatchNorm buffers (running_mean/var,
                           // num_batches_tracked), which a state dict does not mark apart
  std::map<std::string, DtypeTotals> per_dtype;  // keyed by PyTorch's name ("float32", ...)
  std::optional<std::string> head_key;           // the classifier's weight, when found
  std::vector<int64_t> head_shape;               // [num_classes, in_features]
};

// Sums `sd` (views of one storage count once per tensor, as PyTorch's numel() sums do). The head
// is `head_key` when given and present, else the first present of fc.weight,
// classifier.weight, head.weight, head.fc.weight, else the last 2-D "*.weight" tensor.
StateDictSummary summarize_state_dict(const StateDict& sd, const std::string& head_key = "");

// PyTorch's name of a dtype: "float32", "float16", "int64", ...
std::string dtype_name(c10::ScalarType dtype);

}  // namespace ptinfer::checkpoint
