// Mixed-precision policies (Apex's opt levels) and their parsing from --amp / --amp-dtype.
//
//   O0  fp32 everywhere.
//   O1  weights stay fp32; conv, matmul and linear run in the low dtype (LibTorch's autocast);
//       BatchNorm/LayerNorm/GroupNorm, softmax/log_softmax, sum and mean run in fp32 (our
//       autocast kernels, autocast.h, because LibTorch 1.13's CPU autocast leaves them alone).
//   O2  the model's weights in the low dtype except BatchNorm's parameters and statistics, which
//       stay fp32; the input is cast at the model's entry; logits are returned in fp32.
//   O3  everything in the low dtype (the speed ceiling).
#pragma once

#include <torch/torch.h>

#include <string>

namespace ptinfer::amp {

enum class OptLevel { kO0, kO1, kO2, kO3 };
enum class LowDtype { kBFloat16, kFloat16 };

struct Policy {
  OptLevel level = OptLevel::kO0;        // --amp
  LowDtype dtype = LowDtype::kBFloat16;  // --amp-dtype: the low precision of O1..O3
};

// "O0".."O3" (also "o0".."o3") -> OptLevel. Throws Error(kInvalidArgument) naming `flag` and
// the allowed values for anything else.
OptLevel parse_opt_level(const std::string& text, const std::string& flag = "--amp");

// "bf16"/"bfloat16" or "fp16"/"float16"/"half" -> LowDtype. Throws Error(kInvalidArgument)
// naming `flag` and the allowed values for anything else.
LowDtype parse_low_dtype(const std::string& text, const std::string& flag = "--amp-dtype");

// "O0".."O3"; "bf16"/"fp16".
std::string to_string(OptLevel level);
std::string to_string(LowDtype dtype);

// The LibTorch dtype of `dtype` (kBFloat16 or kHalf).
torch::ScalarType scalar_type(LowDtype dtype);

// Throws Error(kUnsupported) when `policy` cannot run on `device`: fp16 with O1..O3 on the CPU
// (this LibTorch has no fp16 CPU convolution). O0 runs everywhere, whatever the dtype.
void check_supported(const Policy& policy, const torch::Device& device);

}  // namespace ptinfer::amp
