#include "checkpoint/summary.h"

namespace ptinfer::checkpoint {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_batchnorm_buffer(const std::string& name) {
  return ends_with(name, "running_mean") || ends_with(name, "running_var") ||
         ends_with(name, "num_batches_tracked");
}

}  // namespace

std::string dtype_name(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat:
      return "float32";
    case c10::kDouble:
      return "float64";
    case c10::kHalf:
      return "float16";
    case c10::kBFloat16:
      return "bfloat16";
    case c10::kChar:
      return "int8";
    case c10::kShort:
      return "int16";
    case c10::kInt:
      return "int32";
    case c10::kLong:
      return "int64";
    case c10::kByte:
      return "uint8";
    case c10::kBool:
      return "bool";
    case c10::kComplexFloat:
      return "complex64";
    case c10::kComplexDouble:
      return "complex128";
    default:
      return c10::toString(dtype);
  }
}

StateDictSummary summarize_state_dict(const StateDict& sd, const std::string& head_key) {
  StateDictSummary s;
  for (const auto& [name, t] : sd) {
    ++s.tensors;
    s.elements += t.numel();
    if (!is_batchnorm_buffer(name)) s.parameters += t.numel();
    DtypeTotals& d = s.per_dtype[dtype_name(t.scalar_type())];
    ++d.tensors;
    d.elements += t.numel();
    d.bytes += static_cast<int64_t>(t.numel() * t.element_size());
  }
  auto find = [&sd](const std::string& key) -> const at::Tensor* {
    for (const auto& [name, t] : sd) {
      if (name == key) return &t;
    }
    return nullptr;
  };
  std::vector<std::string> candidates;
  if (!head_key.empty()) candidates.push_back(head_key);
  for (const char* k : {"fc.weight", "classifier.weight", "head.weight", "head.fc.weight"}) {
    candidates.emplace_back(k);
  }
  for (const std::string& key : candidates) {
    const at::Tensor* t = find(key);
    if (t != nullptr && t->dim() == 2) {
      s.head_key = key;
      s.head_shape = t->sizes().vec();
      return s;
    }
  }
  for (auto it = sd.rbegin(); it != sd.rend(); ++it) {
    if (it->second.dim() == 2 && ends_with(it->first, ".weight")) {
      s.head_key = it->first;
      s.head_shape = it->second.sizes().vec();
      break;
    }
  }
  return s;
}

}  // namespace ptinfer::checkpoint
