// The O2/O3 policies applied to a model's weights, and the dtypes at the model's entry and exit.
#pragma once

#include <torch/torch.h>

#include "amp/policy.h"

namespace ptinfer::amp {

// True for BatchNorm1d/2d/3d modules, the ones O2 keeps in fp32.
bool is_batch_norm(const torch::nn::Module& module);

// Casts `model`'s floating-point parameters and buffers in place (on their current device):
// O0/O1 leave them as they are; O2 casts every module's own tensors to the low dtype except
// BatchNorm's (weight, bias, running_mean, running_var stay fp32); O3 casts all of them. Integer
// buffers (num_batches_tracked) are never touched. Call once, after the weights are loaded.
//
// O2's mixed BatchNorm (low-precision input, fp32 parameters) needs no wrapper on LibTorch 1.13
// CPU: batch_norm accepts a bf16 input with fp32 weight/statistics, normalises in fp32 internally
// and returns the input's dtype (amp tests check this).
void apply_to_model(torch::nn::Module& model, const Policy& policy);

// The dtype the model's input is cast to under `policy`: fp32 for O0 and O1 (autocast casts at
// each op), the low dtype for O2 and O3.
torch::ScalarType input_dtype(const Policy& policy);

}  // namespace ptinfer::amp
