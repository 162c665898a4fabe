#include "amp/policy.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"

namespace ptinfer::amp {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

OptLevel parse_opt_level(const std::string& text, const std::string& flag) {
  std::string t = lower(text);
  if (t == "o0") return OptLevel::kO0;
  if (t == "o1") return OptLevel::kO1;
  if (t == "o2") return OptLevel::kO2;
  if (t == "o3") return OptLevel::kO3;
  throw Error(ErrorKind::kInvalidArgument,
              flag + ": unknown opt level '" + text + "'; allowed: O0, O1, O2, O3");
}

LowDtype parse_low_dtype(const std::string& text, const std::string& flag) {
  std::string t = lower(text);
  if (t == "bf16" || t == "bfloat16") return LowDtype::kBFloat16;
  if (t == "fp16" || t == "float16" || t == "half") return LowDtype::kFloat16;
  throw Error(ErrorKind::kInvalidArgument,
              flag + ": unknown dtype '" + text + "'; allowed: bf16, fp16");
}

std::string to_string(OptLevel level) {
  switch (level) {
    case OptLevel::kO0:
      return "O0";
    case OptLevel::kO1:
      return "O1";
    case OptLevel::kO2:
      return "O2";
    case OptLevel::kO3:
      return "O3";
  }
  return "?";
}

std::string to_string(LowDtype dtype) { return dtype == LowDtype::kBFloat16 ? "bf16" : "fp16"; }

torch::ScalarType scalar_type(LowDtype dtype) {
  return dtype == LowDtype::kBFloat16 ? torch::kBFloat16 : torch::kHalf;
}

void check_supported(const Policy& policy, const torch::Device& device) {
  if (policy.level == OptLevel::kO0) return;
  if (device.is_cpu() && policy.dtype == LowDtype::kFloat16) {
    // LibTorch 1.13's CPU backend has no fp16 convolution ("slow_conv2d_cpu" not implemented
    // for 'Half'): refuse up front rather than fail inside the first batch.
    throw Error(ErrorKind::kUnsupported,
                "--amp-dtype fp16 is not supported on the CPU (no fp16 convolution in this "
                "LibTorch); use --amp-dtype bf16, or --amp " +
                    to_string(policy.level) + " on a CUDA device");
  }
}

}  // namespace ptinfer::amp
