// The activations of the zoo as one module type whose kind is data, so that a block's
// activation is an option (torchvision's activation_layer=nn.ReLU / nn.Hardswish / ...) and
// anything walking the model (amp, the fast path) reads the kind instead of testing C++ types.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace ptinfer::models {

enum class ActivationKind { kReLU, kReLU6, kSiLU, kHardswish, kHardsigmoid, kGELU, kSigmoid };

// "relu", "relu6", "silu", "hardswish", "hardsigmoid", "gelu", "sigmoid".
std::string to_string(ActivationKind kind);

// Applies torch's function of `kind` (relu, hardtanh(0, 6), silu, hardswish, hardsigmoid, gelu
// with the exact erf form, sigmoid) elementwise. Out of place: the numbers are those of
// torchvision's inplace=True modules, and autograd stays valid for finetune.
torch::Tensor apply_activation(ActivationKind kind, const torch::Tensor& x);

// A parameterless module (no state-dict entries, as torchvision's activation modules).
class ActivationImpl : public torch::nn::Module {
 public:
  explicit ActivationImpl(ActivationKind kind) : kind_(kind) {}
  torch::Tensor forward(const torch::Tensor& x) { return apply_activation(kind_, x); }
  ActivationKind kind() const { return kind_; }
  void pretty_print(std::ostream& stream) const override;

 private:
  ActivationKind kind_;
};
TORCH_MODULE(Activation);

}  // namespace ptinfer::models
