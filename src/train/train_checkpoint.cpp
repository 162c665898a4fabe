#include "train/train_checkpoint.h"

#include <sstream>
#include <type_traits>

#include "models/registry.h"

namespace ptinfer::train {

using checkpoint::PyValue;

checkpoint::StateDict model_state_dict(
    torch::nn::Module& model, const std::vector<std::pair<torch::Tensor, torch::Tensor>>& overrides) {
  checkpoint::StateDict out;
  auto value_of = [&overrides](const torch::Tensor& t) {
    for (const auto& [param, replacement] : overrides) {
      if (param.is_same(t)) return replacement;
    }
    return t;
  };
  auto add_own = [&](const torch::nn::Module& m, const std::string& prefix) {
    for (const auto& item : m.named_parameters(/*recurse=*/false)) {
      if (!item.value().defined()) continue;
      out.emplace_back(prefix + item.key(), value_of(item.value()));
    }
    for (const auto& item : m.named_buffers(/*recurse=*/false)) {
      if (item.value().defined()) out.emplace_back(prefix + item.key(), item.value());
    }
  };
  add_own(model, "");
  for (const auto& sub : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    add_own(*sub.value(), sub.key() + ".");
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : out) {
    t = t.detach().to(torch::kCPU);
    if (t.is_floating_point()) t = t.to(torch::kFloat);
    t = t.clone();
  }
  return out;
}

std::vector<std::pair<std::string, int64_t>> module_versions(const torch::nn::Module& model,
                                                             const std::string& arch) {
  std::vector<std::pair<std::string, int64_t>> out;
  out.emplace_back("", models::module_version(arch, "", model));
  for (const auto& sub : model.named_modules(/*name_prefix=*/"", /*include_self=*/false)) {
    out.emplace_back(sub.key(), models::module_version(arch, sub.key(), *sub.value()));
  }
  return out;
}

// The key LibTorch's optimizers file a parameter's state under: the text of its TensorImpl's
// address in LibTorch 1.13 (what c10::guts::to_string printed), the address itself in 2.x.
static std::string state_key(at::TensorImpl* impl, std::string*) {
  std::ostringstream text;
  text << impl;
  return text.str();
}
static void* state_key(at::TensorImpl* impl, void**) { return impl; }

PyValue sgd_state_dict(torch::optim::SGD& optimizer) {
  PyValue state = PyValue::dict();
  PyValue groups = PyValue::list();
  auto& param_state = optimizer.state();
  int64_t index = 0;
  for (auto& group : optimizer.param_groups()) {
    const auto& o = static_cast<const torch::optim::SGDOptions&>(group.options());
    PyValue numbers = PyValue::list();
    for (const auto& p : group.params()) {
      using Key = typename std::decay_t<decltype(param_state)>::key_type;
      auto it = param_state.find(state_key(p.unsafeGetTensorImpl(), static_cast<Key*>(nullptr)));
      if (it != param_state.end()) {
        const auto& s = static_cast<const torch::optim::SGDParamState&>(*it->second);
        if (s.momentum_buffer().defined()) {
          state.set(PyValue::integer(index),
                    PyValue::dict().set("momentum_buffer", PyValue::from_tensor(s.momentum_buffer())));
        }
      }
      numbers.items.push_back(PyValue::integer(index++));
    }
    groups.items.push_back(PyValue::dict()
                               .set("lr", PyValue::real(o.lr()))
                               .set("momentum", PyValue::real(o.momentum()))
                               .set("dampening", PyValue::real(o.dampening()))
                               .set("weight_decay", PyValue::real(o.weight_decay()))
                               .set("nesterov", PyValue::boolean(o.nesterov()))
                               .set("maximize", PyValue::boolean(false))
                               .set("foreach", PyValue::none())
                               .set("differentiable", PyValue::boolean(false))
                               .set("params", numbers));
  }
  return PyValue::dict().set("state", state).set("param_groups", groups);
}

PyValue guide_checkpoint(const GuideCheckpoint& c) {
  PyValue sd = PyValue::ordered_dict();
  for (const auto& [name, t] : c.state_dict) sd.set(name, PyValue::from_tensor(t));
  if (!c.module_versions.empty()) {
    PyValue metadata = PyValue::ordered_dict();
    for (const auto& [path, version] : c.module_versions) {
      metadata.set(path, PyValue::dict().set("version", PyValue::integer(version)));
    }
    sd.set_attribute("_metadata", std::move(metadata));
  }
  PyValue root = PyValue::dict();
  root.set("epoch", PyValue::integer(c.epoch))
      .set("arch", PyValue::str(c.arch))
      .set("state_dict", sd)
      .set("best_acc1", PyValue::from_tensor(torch::tensor(c.best_acc1, torch::kFloat)));
  if (c.optimizer.kind != PyValue::Kind::kNone) root.set("optimizer", c.optimizer);
  return root;
}

}  // namespace ptinfer::train
