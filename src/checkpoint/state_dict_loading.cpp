// load_state_dict_strict: PyTorch's Module.load_state_dict(strict=True), for C++ modules.
#include <sstream>
#include <unordered_map>

#include "checkpoint/checkpoint.h"
#include "common/error.h"

namespace ptinfer::checkpoint {
namespace {

// Long lists (a checkpoint of another architecture mismatches hundreds of keys) are cut so the
// message stays readable; the count says how many were left out.
constexpr size_t kMaxListed = 20;

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < kMaxListed; ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  if (items.size() > kMaxListed) {
    out += ", ... (" + std::to_string(items.size() - kMaxListed) + " more)";
  }
  return out;
}

std::string shape_string(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

}  // namespace

void load_state_dict_strict(torch::nn::Module& module, const StateDict& state_dict) {
  // Destinations in PyTorch's state_dict() order (each module's own parameters, then its
  // buffers, modules in pre-order), so messages list keys as PyTorch would.
  // include_self=true needs the module held by a shared_ptr, so the root is added by hand.
  std::vector<std::pair<std::string, torch::Tensor>> targets;
  auto add_own = [&targets](const torch::nn::Module& m, const std::string& prefix) {
    for (const auto& item : m.named_parameters(/*recurse=*/false)) {
      if (item.value().defined()) targets.emplace_back(prefix + item.key(), item.value());
    }
    for (const auto& item : m.named_buffers(/*recurse=*/false)) {
      if (item.value().defined()) targets.emplace_back(prefix + item.key(), item.value());
    }
  };
  add_own(module, "");
  for (const auto& sub : module.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    add_own(*sub.value(), sub.key() + ".");
  }
  std::unordered_map<std::string, const torch::Tensor*> source;
  for (const auto& [name, tensor] : state_dict) source[name] = &tensor;  // last one wins

  std::vector<std::string> missing, unexpected, mismatched;
  std::unordered_map<std::string, bool> in_model;
  for (const auto& [name, dst] : targets) {
    in_model[name] = true;
    auto it = source.find(name);
    if (it == source.end()) {
      missing.push_back(name);
    } else if (!it->second->defined() || it->second->sizes() != dst.sizes()) {
      mismatched.push_back(name + ": checkpoint " +
                           (it->second->defined() ? shape_string(*it->second) : "undefined") +
                           " vs model " + shape_string(dst));
    }
  }
  for (const auto& [name, tensor] : state_dict) {
    if (in_model.count(name) == 0) unexpected.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::string message = "state dict does not match the model:";
    std::string sep = " ";
    if (!missing.empty()) {
      message += sep + "missing keys: " + join(missing);
      sep = "; ";
    }
    if (!unexpected.empty()) {
      message += sep + "unexpected keys: " + join(unexpected);
      sep = "; ";
    }
    if (!mismatched.empty()) message += sep + "shape mismatch: " + join(mismatched);
    throw Error(ErrorKind::kInvalidArgument, message);
  }

  // copy_ converts dtype (fp16/bf16/fp64 checkpoints into an fp32 model) and device.
  torch::NoGradGuard no_grad;
  for (auto& [name, dst] : targets) dst.copy_(*source.at(name));
}

}  // namespace ptinfer::checkpoint
