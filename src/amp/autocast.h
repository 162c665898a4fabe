// The O1 policy at run time: an RAII guard that turns on LibTorch's autocast for the policy's
// device and low dtype, plus fp32 kernels for the ops that LibTorch 1.13's CPU autocast leaves
// alone.
//
// What LibTorch 1.13's CPU autocast covers (measured with Debian's torch 1.13 and in
// aten/src/ATen/autocast_mode.cpp at v1.13): conv1d/2d/3d, linear, matmul, mm, bmm, addmm,
// baddbmm, addbmm run in the low dtype; a few losses (cross_entropy, nll_loss, ...) in fp32.
// batch_norm, layer_norm, group_norm, softmax, log_softmax, sum and mean are NOT covered: they
// would run in whatever dtype arrives (bf16 after a conv). This library registers AutocastCPU
// kernels for exactly those ops that cast their low-precision tensor arguments to fp32, so under
// the guard they run in fp32 and return fp32, as Apex's O1 prescribes. The registration is
// process-wide but only active while CPU autocast is enabled.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "amp/policy.h"

namespace ptinfer::amp {

// Turns autocast on for `device`'s type with `policy`'s low dtype when policy.level is O1, and
// does nothing for O0/O2/O3 (which work by casting weights and inputs, model_policy.h). Restores
// the previous autocast state and dtype on destruction and clears autocast's weight-cast cache
// when the outermost guard ends, as Python's torch.autocast does. Thread-local, as autocast is:
// construct it on the thread that runs the model.
class AutocastGuard {
 public:
  AutocastGuard(const Policy& policy, const torch::Device& device);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

  bool active() const { return active_; }

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool prev_enabled_ = false;
  torch::ScalarType prev_dtype_ = torch::kBFloat16;
};

// The aten operators this library forces to fp32 under CPU autocast (schema names with
// overloads, e.g. "softmax.int"), for documentation and tests.
const std::vector<std::string>& cpu_fp32_ops();

}  // namespace ptinfer::amp
