#include "models/blocks/activation.h"

#include <torch/torch.h>

#include "common/error.h"

namespace ptinfer::models {

std::string to_string(ActivationKind kind) {
  switch (kind) {
    case ActivationKind::kReLU: return "relu";
    case ActivationKind::kReLU6: return "relu6";
    case ActivationKind::kSiLU: return "silu";
    case ActivationKind::kHardswish: return "hardswish";
    case ActivationKind::kHardsigmoid: return "hardsigmoid";
    case ActivationKind::kGELU: return "gelu";
    case ActivationKind::kSigmoid: return "sigmoid";
  }
  throw Error(ErrorKind::kInternal, "unknown activation kind");
}

torch::Tensor apply_activation(ActivationKind kind, const torch::Tensor& x) {
  switch (kind) {
    case ActivationKind::kReLU: return torch::relu(x);
    case ActivationKind::kReLU6:
      // LibTorch 1.13 has no bf16 CPU kernel for hardtanh's backward (finetune --amp O2 of
      // MobileNetV2): clamping is exact in fp32, so the same values come back.
      if (x.scalar_type() == torch::kBFloat16 && x.requires_grad() && x.is_cpu()) {
        return torch::hardtanh(x.to(torch::kFloat), 0.0, 6.0).to(torch::kBFloat16);
      }
      return torch::hardtanh(x, 0.0, 6.0);
    case ActivationKind::kSiLU: return torch::silu(x);
    case ActivationKind::kHardswish: return torch::hardswish(x);
    case ActivationKind::kHardsigmoid: return torch::hardsigmoid(x);
    case ActivationKind::kGELU: return torch::gelu(x);
    case ActivationKind::kSigmoid: return torch::sigmoid(x);
  }
  throw Error(ErrorKind::kInternal, "unknown activation kind");
}

void ActivationImpl::pretty_print(std::ostream& stream) const {
  stream << "Activation(" << to_string(kind_) << ")";
}

}  // namespace ptinfer::models
