#include "checkpoint/checkpoint.h"

#include "checkpoint/pickle_reader.h"
#include "checkpoint/torch_zip.h"
#include "common/error.h"

namespace ptinfer::checkpoint {
namespace {

constexpr char kModulePrefix[] = "module.";

// A dict whose keys are all strings and whose values are all tensors (an empty dict counts).
bool is_tensor_dict(const Value& v) {
  if (!v.is(ValueKind::kDict)) return false;
  for (const auto& [key, value] : v.dict().entries) {
    if (!key->is(ValueKind::kString) || !value->is(ValueKind::kTensor)) return false;
  }
  return true;
}

StateDict to_state_dict(const Value& dict) {
  StateDict sd;
  sd.reserve(dict.dict().entries.size());
  for (const auto& [key, value] : dict.dict().entries) {
    sd.emplace_back(key->as_string(), value->tensor());
  }
  // DataParallel/DDP save the wrapped model's keys as "module.<name>"; strip the prefix only
  // when every key has it, so a model with a real submodule called "module" stays intact.
  bool all_prefixed = !sd.empty();
  for (const auto& entry : sd) {
    if (entry.first.rfind(kModulePrefix, 0) != 0) all_prefixed = false;
  }
  if (all_prefixed) {
    for (auto& entry : sd) entry.first.erase(0, sizeof(kModulePrefix) - 1);
  }
  return sd;
}

// A single number stored as a Python number or a one-element tensor (the guide's best_acc1 is
// the 0-d tensor validate() returns).
std::optional<double> as_number(const Value& v) {
  if (v.is(ValueKind::kFloat) || v.is(ValueKind::kInt)) return v.as_double();
  if (v.is(ValueKind::kTensor) && v.tensor().numel() == 1 && !v.tensor().is_complex()) {
    return v.tensor().item<double>();
  }
  return std::nullopt;
}

std::optional<int64_t> as_integer(const Value& v) {
  if (v.is(ValueKind::kInt)) return v.as_int();
  if (v.is(ValueKind::kTensor) && v.tensor().numel() == 1 && !v.tensor().is_floating_point() &&
      !v.tensor().is_complex()) {
    return v.tensor().item<int64_t>();
  }
  return std::nullopt;
}

// Fills `out` from a training checkpoint dict. Known metadata of an unexpected type stays in
// other_keys rather than failing: it is not needed to run the model.
void read_container(const Value& root, const Value& sd_value, const std::string& sd_key,
                    Checkpoint& out) {
  out.state_dict = to_state_dict(sd_value);
  for (const auto& [key_value, value] : root.dict().entries) {
    if (!key_value->is(ValueKind::kString)) continue;  // not a name anyone can ask for
    const std::string& key = key_value->as_string();
    if (key == sd_key) continue;
    bool used = false;
    if (key == "epoch") {
      out.epoch = as_integer(*value);
      used = out.epoch.has_value();
    } else if (key == "arch" && value->is(ValueKind::kString)) {
      out.arch = value->as_string();
      used = true;
    } else if (key == "best_acc1") {
      out.best_acc1 = as_number(*value);
      used = out.best_acc1.has_value();
    } else if (key == "classes" && (value->is(ValueKind::kList) || value->is(ValueKind::kTuple))) {
      std::vector<std::string> classes;
      used = true;
      for (const Value* item : value->items()) {
        if (!item->is(ValueKind::kString)) {
          used = false;
          break;
        }
        classes.push_back(item->as_string());
      }
      if (used) out.classes = std::move(classes);
    }
    if (!used) out.other_keys.push_back(key);
  }
}

std::string describe_keys(const Value& dict) {
  std::string keys;
  for (const auto& [key, value] : dict.dict().entries) {
    if (keys.size() > 200) {
      keys += ", ...";
      break;
    }
    if (!keys.empty()) keys += ", ";
    keys += key->is(ValueKind::kString) ? "'" + key->as_string() + "'" : key->kind_name();
    keys += std::string(" (") + value->kind_name() + ")";
  }
  return keys.empty() ? "none" : keys;
}

}  // namespace

Checkpoint load_checkpoint(const std::string& path) {
  TorchZip zip(path);
  const std::string pickle = zip.read_record("data.pkl");
  StorageLoader loader = [&zip](const std::string& key, c10::ScalarType dtype, int64_t numel) {
    return zip.read_storage(key, dtype, numel);
  };
  Unpickled doc = read_pickle(pickle.data(), pickle.size(), loader, path);
  const Value& root = *doc.root;
  if (!root.is(ValueKind::kDict)) {
    throw Error(ErrorKind::kUnsupported, path + ": top level is a " +
                                             std::string(root.kind_name()) +
                                             ", expected a dict (a state dict or a checkpoint)");
  }
  Checkpoint out;
  for (const char* key : {"state_dict", "model"}) {
    const Value* sd = root.find(key);
    if (sd == nullptr) continue;
    if (!is_tensor_dict(*sd)) {
      throw Error(ErrorKind::kUnsupported,
                  path + ": '" + key + "' is not a dict of tensors (it holds " +
                      (sd->is(ValueKind::kDict) ? describe_keys(*sd) : sd->kind_name()) + ")");
    }
    read_container(root, *sd, key, out);
    return out;
  }
  if (!is_tensor_dict(root)) {
    throw Error(ErrorKind::kUnsupported,
                path +
                    ": no state dict: neither a dict of tensors nor a dict with 'state_dict' "
                    "or 'model'; top-level keys: " +
                    describe_keys(root));
  }
  out.state_dict = to_state_dict(root);
  return out;
}

}  // namespace ptinfer::checkpoint
