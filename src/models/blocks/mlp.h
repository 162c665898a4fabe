// torchvision's MLP (torchvision/ops/misc.py): an nn::Sequential of, for each hidden width but
// the last, Linear, activation, Dropout, then the last Linear and a Dropout. The children are
// "0", "1", ... in that order, so that a two-layer MLP's state-dict keys read "mlp.0.weight",
// "mlp.0.bias", "mlp.3.weight", "mlp.3.bias" (ViT's MLPBlock, Swin's block MLP).
#pragma once

#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <vector>

#include "models/blocks/activation.h"
#include "models/classifier.h"

namespace ptinfer::models {

struct MlpOptions {
  MlpOptions(int64_t in, std::vector<int64_t> hidden)
      : in_channels(in), hidden_channels(std::move(hidden)) {}
  int64_t in_channels;
  std::vector<int64_t> hidden_channels;  // the width of every Linear's output, the last included
  ActivationKind activation = ActivationKind::kReLU;  // torchvision's activation_layer
  bool bias = true;                                   // on every Linear
  double dropout = 0.0;                               // every Dropout's probability

  MlpOptions& with_activation(ActivationKind a) {
    activation = a;
    return *this;
  }
  MlpOptions& with_bias(bool b) {
    bias = b;
    return *this;
  }
  MlpOptions& with_dropout(double p) {
    dropout = p;
    return *this;
  }
};

// The Sequential [Linear, Activation, Dropout]* Linear, Dropout. The Linears come from
// make_linear (uninitialised under Init::kSkip, nn.Linear's default otherwise); the Dropouts obey
// train()/eval(). torchvision's norm_layer option (unused by the zoo) is not supported. Throws
// Error(kInvalidArgument) for no hidden widths, a non-positive width, or a dropout probability
// outside [0, 1].
torch::nn::Sequential make_mlp(const MlpOptions& options, Init init);

// The transformers' MLP initialisation (ViT's MLPBlock, Swin's block): every Linear of `mlp`
// gets xavier_uniform_ weights and N(0, 1e-6^2) biases.
void init_mlp_xavier(torch::nn::Sequential& mlp);

}  // namespace ptinfer::models
