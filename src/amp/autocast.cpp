#include "amp/autocast.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/stack.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/library.h>
#include <torch/version.h>

#include <iterator>

namespace ptinfer::amp {
namespace {

// A boxed kernel, so that one function serves every op whatever its signature (and keeps working
// when a newer LibTorch changes an int[] into a SymInt[]). It casts bf16/fp16 tensor arguments to
// fp32 and calls the op again below the autocast key. Only tensors are cast: under O1 the weights
// and BatchNorm statistics are fp32 already, so in-place updates of running statistics in
// training still land in the module's own tensors.
template <c10::DispatchKey kAutocastKey>
void run_in_fp32(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(kAutocastKey);
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
    m.impl(name,
           torch::CppFunction::makeFromBoxedFunction<&run_in_fp32<c10::DispatchKey::AutocastCPU>>());
  }
}

// LibTorch's CUDA autocast already runs softmax, log_softmax, sum, layer_norm and group_norm in
// fp32 (registering them again would replace its kernels); it leaves batch_norm and mean alone.
const char* const kCudaFp32Ops[] = {"batch_norm", "mean", "mean.dim"};

TORCH_LIBRARY_IMPL(aten, AutocastCUDA, m) {
  for (const char* name : kCudaFp32Ops) {
    m.impl(name, torch::CppFunction::makeFromBoxedFunction<
                     &run_in_fp32<c10::DispatchKey::AutocastCUDA>>());
  }
}

// LibTorch 2.4 replaced the per-device autocast functions with ones taking a device type; the
// old names are deprecated there. One spelling for both.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(bool cuda) {
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
}
void set_autocast_enabled(bool cuda, bool on) {
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, on);
}
torch::ScalarType autocast_dtype(bool cuda) {
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
}
void set_autocast_dtype(bool cuda, torch::ScalarType dtype) {
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
}
#else
bool autocast_enabled(bool cuda) {
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast_enabled(bool cuda, bool on) {
  cuda ? at::autocast::set_enabled(on) : at::autocast::set_cpu_enabled(on);
}
torch::ScalarType autocast_dtype(bool cuda) {
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(bool cuda, torch::ScalarType dtype) {
  cuda ? at::autocast::set_autocast_gpu_dtype(dtype) : at::autocast::set_autocast_cpu_dtype(dtype);
}
#endif

}  // namespace

const std::vector<std::string>& cpu_fp32_ops() {
  static const std::vector<std::string> ops(std::begin(kFp32Ops), std::end(kFp32Ops));
  return ops;
}

const std::vector<std::string>& cuda_fp32_ops() {
  static const std::vector<std::string> ops(std::begin(kCudaFp32Ops), std::end(kCudaFp32Ops));
  return ops;
}

AutocastGuard::AutocastGuard(const Policy& policy, const torch::Device& device) {
  if (policy.level != OptLevel::kO1) return;
  active_ = true;
  cuda_ = device.is_cuda();
  torch::ScalarType dtype = scalar_type(policy.dtype);
  prev_enabled_ = autocast_enabled(cuda_);
  prev_dtype_ = autocast_dtype(cuda_);
  set_autocast_enabled(cuda_, true);
  set_autocast_dtype(cuda_, dtype);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // Python's autocast clears the cache of cast weights when the outermost region ends; without
  // it the cache would keep stale low-precision copies of weights that change between calls.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(cuda_, prev_enabled_);
  set_autocast_dtype(cuda_, prev_dtype_);
}

}  // namespace ptinfer::amp
