#include "engine/torchscript_model.h"

#include <torch/script.h>

#include "checkpoint/checkpoint.h"
#include "common/error.h"

namespace ptinfer::engine {
namespace {

std::string shape_string(const torch::Tensor& t) {
  std::string out = "[";
  for (int64_t i = 0; i < t.dim(); ++i) out += (i ? ", " : "") + std::to_string(t.size(i));
  return out + "]";
}

class TorchScriptModel : public Model {
 public:
  TorchScriptModel(torch::jit::Module module, std::string path)
      : module_(std::move(module)), path_(std::move(path)) {}

  torch::Tensor forward(const torch::Tensor& x) override {
    c10::IValue out;
    try {
      out = module_.forward({x});
    } catch (const c10::Error& e) {
      throw Error(ErrorKind::kUnsupported, path_ + ": the TorchScript model's forward failed on a " +
                                               shape_string(x) + " " + c10::toString(x.scalar_type()) +
                                               " input: " + e.what_without_backtrace());
    }
    if (!out.isTensor()) {
      throw Error(ErrorKind::kUnsupported, path_ + ": the TorchScript model's forward returned " +
                                               out.tagKind() + ", expected a logits tensor");
    }
    return out.toTensor();
  }

  void to_device_eval(const torch::Device& device) override {
    module_.to(device);
    module_.eval();
  }

  void apply_policy(const amp::Policy& policy) override {
    if (policy.level == amp::OptLevel::kO0 || policy.level == amp::OptLevel::kO1) return;
    torch::NoGradGuard no_grad;
    const torch::ScalarType dtype = amp::scalar_type(policy.dtype);
    for (const torch::jit::Module& m : module_.modules()) {
      const auto& name = m.type()->name();
      if (policy.level == amp::OptLevel::kO2 && name &&
          is_script_batch_norm_type(name->qualifiedName())) {
        continue;
      }
      // set_data swaps the storage of the tensor the module's attribute slot holds.
      for (torch::Tensor p : m.parameters(/*recurse=*/false)) {
        if (p.is_floating_point()) p.set_data(p.to(dtype));
      }
      for (torch::Tensor b : m.buffers(/*recurse=*/false)) {
        if (b.is_floating_point()) b.set_data(b.to(dtype));
      }
    }
  }

 private:
  torch::jit::Module module_;
  std::string path_;
};

}  // namespace

bool is_script_batch_norm_type(const std::string& qualified_name) {
  const size_t dot = qualified_name.rfind('.');
  const std::string cls = dot == std::string::npos ? qualified_name : qualified_name.substr(dot + 1);
  return cls == "BatchNorm1d" || cls == "BatchNorm2d" || cls == "BatchNorm3d" ||
         cls == "SyncBatchNorm" || cls == "FrozenBatchNorm2d";
}

torch::jit::Module load_torchscript_module(const std::string& path, const torch::Device& device) {
  const std::string format = checkpoint::detect_format(path);
  if (format != "torchscript") {
    throw Error(ErrorKind::kInvalidArgument,
                path + ": --arch torchscript needs a torch.jit.save archive, this is a " + format +
                    " checkpoint (weights only): pass its architecture with --arch");
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, device);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::kCorruptData,
                path + ": torch::jit::load cannot load this TorchScript archive: " +
                    e.what_without_backtrace());
  } catch (const std::exception& e) {
    throw Error(ErrorKind::kCorruptData,
                path + ": torch::jit::load cannot load this TorchScript archive: " + e.what());
  }
  if (module.find_method("forward") == c10::nullopt) {
    throw Error(ErrorKind::kUnsupported, path + ": the TorchScript module has no forward method");
  }
  module.to(device);
  module.eval();
  return module;
}

std::unique_ptr<Model> load_torchscript(const std::string& path, const torch::Device& device) {
  auto model = std::make_unique<TorchScriptModel>(load_torchscript_module(path, device), path);
  model->to_device_eval(device);
  return model;
}

}  // namespace ptinfer::engine
