#include "amp/model_policy.h"

namespace ptinfer::amp {
namespace {

void cast_own_tensors(torch::nn::Module& module, torch::ScalarType dtype) {
  // set_data keeps the Parameter objects (and whatever holds them, e.g. an optimizer or the
  // module's member handles) and swaps their storage for the cast copy.
  for (auto& p : module.parameters(/*recurse=*/false)) {
    if (p.is_floating_point()) p.set_data(p.to(dtype));
  }
  for (auto& b : module.buffers(/*recurse=*/false)) {
    if (b.is_floating_point()) b.set_data(b.to(dtype));
  }
}

}  // namespace

bool is_batch_norm(const torch::nn::Module& module) {
  return module.as<torch::nn::BatchNorm1d>() != nullptr ||
         module.as<torch::nn::BatchNorm2d>() != nullptr ||
         module.as<torch::nn::BatchNorm3d>() != nullptr;
}

void apply_to_model(torch::nn::Module& model, const Policy& policy) {
  if (policy.level == OptLevel::kO0 || policy.level == OptLevel::kO1) return;
  torch::NoGradGuard no_grad;
  torch::ScalarType dtype = scalar_type(policy.dtype);
  // include_self=false: modules(true) needs the root to be held by a shared_ptr.
  std::vector<std::shared_ptr<torch::nn::Module>> all = model.modules(/*include_self=*/false);
  if (!(policy.level == OptLevel::kO2 && is_batch_norm(model))) cast_own_tensors(model, dtype);
  for (const auto& module : all) {
    if (policy.level == OptLevel::kO2 && is_batch_norm(*module)) continue;
    cast_own_tensors(*module, dtype);
  }
}

torch::ScalarType input_dtype(const Policy& policy) {
  if (policy.level == OptLevel::kO2 || policy.level == OptLevel::kO3) {
    return scalar_type(policy.dtype);
  }
  return torch::kFloat32;
}

}  // namespace ptinfer::amp
