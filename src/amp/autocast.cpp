#include "amp/autocast.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>

#include <iterator>

namespace ptinfer::amp {
namespace {

// A boxed kernel, so that one function serves every op whatever its signature (and keeps working
// when a newer LibTorch changes an int[] into a SymInt[]). It casts bf16/fp16 tensor arguments to
// fp32 and calls the op again below the autocast key. Only tensors are cast: under O1 the weights
// and BatchNorm statistics are fp32 already, so in-place updates of running statistics in
// training still land in the module's own tensors.
void run_in_fp32(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  const size_t num_args = op.schema().arguments().size();
  for (size_t i = stack->size() - num_args; i < stack->size(); ++i) {
    c10::IValue& v = (*stack)[i];
    if (!v.isTensor()) continue;
    const at::Tensor& t = v.toTensor();
    if (t.defined() && (t.scalar_type() == at::kBFloat16 || t.scalar_type() == at::kHalf)) {
      v = t.to(at::kFloat);
    }
  }
  op.callBoxed(stack);
}

const char* const kFp32Ops[] = {"batch_norm",      "layer_norm", "group_norm",      "softmax.int",
                                "log_softmax.int", "sum",        "sum.dim_IntList", "mean",
                                "mean.dim"};

TORCH_LIBRARY_IMPL(aten, AutocastCPU, m) {
  for (const char* name : kFp32Ops) {
    m.impl(name, torch::CppFunction::makeFromBoxedFunction<&run_in_fp32>());
  }
}

}  // namespace

const std::vector<std::string>& cpu_fp32_ops() {
  static const std::vector<std::string> ops(std::begin(kFp32Ops), std::end(kFp32Ops));
  return ops;
}

AutocastGuard::AutocastGuard(const Policy& policy, const torch::Device& device) {
  if (policy.level != OptLevel::kO1) return;
  active_ = true;
  cuda_ = device.is_cuda();
  torch::ScalarType dtype = scalar_type(policy.dtype);
  if (cuda_) {
    prev_enabled_ = at::autocast::is_enabled();
    prev_dtype_ = at::autocast::get_autocast_gpu_dtype();
    at::autocast::set_enabled(true);
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    prev_enabled_ = at::autocast::is_cpu_enabled();
    prev_dtype_ = at::autocast::get_autocast_cpu_dtype();
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // Python's autocast clears the cache of cast weights when the outermost region ends; without
  // it the cache would keep stale low-precision copies of weights that change between calls.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  if (cuda_) {
    at::autocast::set_enabled(prev_enabled_);
    at::autocast::set_autocast_gpu_dtype(prev_dtype_);
  } else {
    at::autocast::set_cpu_enabled(prev_enabled_);
    at::autocast::set_autocast_cpu_dtype(prev_dtype_);
  }
}

}  // namespace ptinfer::amp
