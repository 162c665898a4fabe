#include "models/blocks/mlp.h"

#include <torch/torch.h>

#include <string>

#include "common/error.h"
#include "models/blocks/layers.h"

namespace ptinfer::models {

namespace nn = torch::nn;

nn::Sequential make_mlp(const MlpOptions& options, Init init) {
  auto fail = [](const std::string& message) {
    throw Error(ErrorKind::kInvalidArgument, "MLP options: " + message);
  };
  if (options.hidden_channels.empty()) fail("no hidden_channels");
  if (options.in_channels < 1) fail("in_channels must be >= 1");
  for (int64_t width : options.hidden_channels) {
    if (width < 1) fail("every hidden width must be >= 1, got " + std::to_string(width));
  }
  if (!(options.dropout >= 0.0 && options.dropout <= 1.0)) {
    fail("dropout must be in [0, 1], got " + std::to_string(options.dropout));
  }
  nn::Sequential mlp;
  int64_t in = options.in_channels;
  const size_t last = options.hidden_channels.size() - 1;
  for (size_t i = 0; i < last; ++i) {
    const int64_t width = options.hidden_channels[i];
    mlp->push_back(make_linear(nn::LinearOptions(in, width).bias(options.bias), init));
    mlp->push_back(Activation(options.activation));
    mlp->push_back(nn::Dropout(nn::DropoutOptions(options.dropout)));
    in = width;
  }
  mlp->push_back(
      make_linear(nn::LinearOptions(in, options.hidden_channels[last]).bias(options.bias), init));
  mlp->push_back(nn::Dropout(nn::DropoutOptions(options.dropout)));
  return mlp;
}

void init_mlp_xavier(nn::Sequential& mlp) {
  torch::NoGradGuard no_grad;
  for (auto& module : mlp->modules(/*include_self=*/false)) {
    if (auto* linear = module->as<nn::Linear>()) {
      nn::init::xavier_uniform_(linear->weight);
      if (linear->options.bias()) nn::init::normal_(linear->bias, 0.0, 1e-6);
    }
  }
}

}  // namespace ptinfer::models
