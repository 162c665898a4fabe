#include "checkpoint/checkpoint.h"

#include <fstream>

#include "checkpoint/legacy_format.h"
#include "checkpoint/mapped_file.h"
#include "checkpoint/pickle_reader.h"
#include "checkpoint/safetensors.h"
#include "checkpoint/torch_zip.h"
#include "common/error.h"

namespace ptinfer::checkpoint {
namespace {

// Wrappers whose state dict names every key with a prefix: DataParallel/DDP and torch.compile
// (either may wrap the other, so both are stripped, outermost first).
constexpr const char* kWrapperPrefixes[] = {"module.", "_orig_mod."};

// A dict whose keys are all strings and whose values are all tensors (an empty dict counts).
bool is_tensor_dict(const Value& v) {
  if (!v.is(ValueKind::kDict)) return false;
  for (const auto& [key, value] : v.dict().entries) {
    if (!key->is(ValueKind::kString) || !value->is(ValueKind::kTensor)) return false;
  }
  return true;
}

void strip_wrapper_prefixes(StateDict& sd, std::vector<std::string>* stripped) {
  // Strip a wrapper's prefix only when every key has it, so a model with a real submodule
  // called "module" stays intact.
  for (bool again = !sd.empty(); again;) {
    again = false;
    for (const char* prefix : kWrapperPrefixes) {
      bool all_prefixed = true;
      for (const auto& entry : sd) {
        if (entry.first.rfind(prefix, 0) != 0) all_prefixed = false;
      }
      if (!all_prefixed) continue;
      const size_t n = std::char_traits<char>::length(prefix);
      for (auto& entry : sd) entry.first.erase(0, n);
      stripped->push_back(prefix);
      again = true;
    }
  }
}

// torch.optim.swa_utils.AveragedModel's sample counter, the one entry of an EMA state dict
// (torchvision's reference scripts save model_ema this way) that is not the model's: its other
// keys are "module." + the model's.
constexpr const char* kAveragedModelCounter = "n_averaged";

StateDict to_state_dict(const Value& dict, std::vector<std::string>* stripped,
                        bool averaged_model = false) {
  StateDict sd;
  sd.reserve(dict.dict().entries.size());
  for (const auto& [key, value] : dict.dict().entries) {
    if (averaged_model && key->as_string() == kAveragedModelCounter) continue;
    sd.emplace_back(key->as_string(), value->tensor());
  }
  strip_wrapper_prefixes(sd, stripped);
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

// Apex's amp.state_dict(): {"loss_scaler<i>": {"loss_scale": float, "unskipped": int}, ...}.
// Returns false (the entry stays in other_keys) for anything else.
bool read_apex_amp(const Value& v, std::vector<AmpLossScaler>* out) {
  if (!v.is(ValueKind::kDict) || v.dict().entries.empty()) return false;
  std::vector<AmpLossScaler> scalers;
  for (const auto& [key, value] : v.dict().entries) {
    if (!key->is(ValueKind::kString) || !value->is(ValueKind::kDict)) return false;
    AmpLossScaler s;
    s.name = key->as_string();
    if (const Value* scale = value->find("loss_scale")) s.loss_scale = as_number(*scale);
    if (const Value* unskipped = value->find("unskipped")) s.unskipped = as_integer(*unskipped);
    if (!s.loss_scale) return false;
    scalers.push_back(std::move(s));
  }
  *out = std::move(scalers);
  return true;
}

// Fills `out` from a training checkpoint dict. Known metadata of an unexpected type stays in
// other_keys rather than failing: it is not needed to run the model.
void read_container(const Value& root, const Value& sd_value, const std::string& sd_key,
                    Checkpoint& out) {
  out.state_dict = to_state_dict(sd_value, &out.stripped_prefixes, sd_key == "model_ema");
  out.state_dict_key = sd_key;
  // torchvision's reference scripts: {"model", "optimizer", "lr_scheduler", "epoch", "args"},
  // the architecture in args.model (an argparse.Namespace, read as a dict).
  if (const Value* args = root.find("args"); args != nullptr && args->is(ValueKind::kDict)) {
    for (const auto& [k, v] : args->dict().entries) {
      if (k->is(ValueKind::kString) && k->as_string() == "model" && v->is(ValueKind::kString)) {
        out.arch = v->as_string();
      }
    }
  }
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
    } else if (key == "amp") {
      used = read_apex_amp(*value, &out.amp);
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

struct FileHead {
  unsigned char bytes[16] = {};
  size_t size = 0;  // bytes read
  uint64_t file_size = 0;
};

FileHead read_head(const std::string& path) {
  FileHead head;
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (in) {
    head.file_size = static_cast<uint64_t>(in.tellg());
    in.seekg(0);
    in.read(reinterpret_cast<char*>(head.bytes), sizeof(head.bytes));
    head.size = static_cast<size_t>(in.gcount());
  }
  return head;
}

// Unpickles the saved object of a zip, TorchScript or legacy file; `format` gets which.
Unpickled read_document(const std::string& path, const FileHead& head, std::string* format) {
  if (is_legacy_format(head.bytes, head.size)) {
    *format = "legacy";
    MappedFile file(path);
    // Storages are copied out of the map into their tensors, so the map can go afterwards.
    return read_legacy_checkpoint(path, file);
  }
  TorchZip zip(path);
  PickleOptions options;
  options.torchscript = zip.is_torchscript();
  *format = options.torchscript ? "torchscript" : "zip";
  const std::string pickle = zip.read_record("data.pkl");
  StorageLoader loader = [&zip](const std::string& key, c10::ScalarType dtype, int64_t numel) {
    return zip.read_storage(key, dtype, numel);
  };
  return read_pickle(pickle.data(), pickle.size(), loader, path + ": data.pkl", options);
}

// A TorchScript module tree's tensor attributes under their dotted names (the names
// state_dict() gives parameters and buffers), depth first in attribute order.
void collect_script_tensors(const Unpickled& doc, const Value& module, const std::string& prefix,
                            int depth, const std::string& path, StateDict* sd) {
  constexpr int kMaxDepth = 200;
  if (depth > kMaxDepth) {
    throw Error(ErrorKind::kCorruptData, path + ": TorchScript modules nested more than " +
                                             std::to_string(kMaxDepth) + " deep at '" + prefix +
                                             "'");
  }
  for (const auto& [key, value] : module.dict().entries) {
    if (!key->is(ValueKind::kString)) continue;
    const std::string name = prefix + key->as_string();
    if (value->is(ValueKind::kTensor)) {
      sd->emplace_back(name, value->tensor());
    } else if (value->is(ValueKind::kDict) && doc.script_classes.count(value) != 0) {
      collect_script_tensors(doc, *value, name + ".", depth + 1, path, sd);
    }
  }
}

// "___torch_mangle_7.TinyNet" -> "TinyNet": TorchScript renames a class compiled twice by
// inserting a ___torch_mangle_<n> component; the user's class name is the one without it.
std::string demangle_script_class(const std::string& name) {
  std::string out;
  size_t begin = 0;
  while (begin <= name.size()) {
    size_t dot = name.find('.', begin);
    std::string part = name.substr(begin, dot == std::string::npos ? std::string::npos : dot - begin);
    if (part.rfind("___torch_mangle_", 0) != 0) out += (out.empty() ? "" : ".") + part;
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  return out;
}

void read_torchscript(const Unpickled& doc, const std::string& path,
                      const LoadOptions& options, Checkpoint& out) {
  const Value& root = *doc.root;
  auto cls = doc.script_classes.find(&root);
  if (cls == doc.script_classes.end() || !root.is(ValueKind::kDict)) {
    throw Error(ErrorKind::kCorruptData,
                path + ": TorchScript archive whose data.pkl is a " + root.kind_name() +
                    ", not a module with attributes");
  }
  if (!options.checkpoint_key.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                path + ": --checkpoint-key '" + options.checkpoint_key +
                    "' does not apply to a TorchScript archive (its weights are the module's)");
  }
  out.script_class = demangle_script_class(cls->second);
  for (const auto& entry : root.dict().entries) {
    if (entry.first->is(ValueKind::kString)) out.top_level_keys.push_back(entry.first->as_string());
  }
  collect_script_tensors(doc, root, "", 0, path, &out.state_dict);
}

}  // namespace

std::string detect_format(const std::string& path) {
  const FileHead head = read_head(path);
  if (is_safetensors(head.bytes, head.size, head.file_size)) return "safetensors";
  if (is_legacy_format(head.bytes, head.size)) return "legacy";
  TorchZip zip(path);  // throws for missing, empty, non-zip files
  return zip.is_torchscript() ? "torchscript" : "zip";
}

Checkpoint load_checkpoint(const std::string& path, const LoadOptions& options) {
  Checkpoint out;
  const FileHead head = read_head(path);
  if (is_safetensors(head.bytes, head.size, head.file_size)) {
    // Tensors only: no wrapper keys, metadata strings aside.
    out.format = "safetensors";
    std::map<std::string, std::string> metadata;
    out.state_dict = read_safetensors(path, &metadata);
    strip_wrapper_prefixes(out.state_dict, &out.stripped_prefixes);
    for (const auto& entry : out.state_dict) out.top_level_keys.push_back(entry.first);
    return out;
  }
  Unpickled doc = read_document(path, head, &out.format);
  if (out.format == "torchscript") {
    read_torchscript(doc, path, options, out);
    return out;
  }
  const Value& root = *doc.root;
  if (!root.is(ValueKind::kDict)) {
    throw Error(ErrorKind::kUnsupported, path + ": top level is a " +
                                             std::string(root.kind_name()) +
                                             ", expected a dict (a state dict or a checkpoint)");
  }
  for (const auto& entry : root.dict().entries) {
    if (entry.first->is(ValueKind::kString)) out.top_level_keys.push_back(entry.first->as_string());
  }
  if (!options.checkpoint_key.empty()) {
    const Value* sd = root.find(options.checkpoint_key);
    if (sd == nullptr || !is_tensor_dict(*sd)) {
      throw Error(ErrorKind::kInvalidArgument,
                  path + ": checkpoint key '" + options.checkpoint_key + "' " +
                      (sd == nullptr ? "is absent" : "is not a dict of tensors") +
                      "; top-level keys: " + describe_keys(root));
    }
    read_container(root, *sd, options.checkpoint_key, out);
    return out;
  }
  // timm's order: EMA weights first when present.
  for (const char* key : {"state_dict_ema", "model_ema", "state_dict", "model"}) {
    const Value* sd = root.find(key);
    if (sd == nullptr || sd->is(ValueKind::kNone)) continue;
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
                    ": no state dict: neither a dict of tensors nor a dict with 'state_dict_ema', "
                    "'model_ema', 'state_dict' or 'model'; top-level keys: " +
                    describe_keys(root));
  }
  out.state_dict = to_state_dict(root, &out.stripped_prefixes);
  return out;
}

}  // namespace ptinfer::checkpoint
