// A torch::nn::Sequential that can sit inside another Sequential, as torchvision nests
// nn.Sequentials (ConvNeXt's features hold Conv2dNormActivations and stages; MaxViT's stem holds
// two Conv2dNormActivations). LibTorch's AnyModule cannot hold nn::Sequential itself, whose
// forward is a template; this subclass adds a plain Tensor -> Tensor forward. Its children keep
// Sequential's names ("0", "1", ... or the names pushed), and as<torch::nn::Sequential>() still
// finds it.
#pragma once

#include <torch/nn/modules/container/sequential.h>

#include <string>
#include <utility>

namespace ptinfer::models {

class NestedSequentialImpl : public torch::nn::SequentialImpl {
 public:
  using SequentialImpl::SequentialImpl;
  // The children in order, each on the previous one's output. Throws c10::Error when empty.
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(std::move(x)); }
};
TORCH_MODULE(NestedSequential);

// A NestedSequential holding the same child modules as `seq` (shared, not copied) under the
// same names: conv_norm_act's result, nestable.
inline NestedSequential nested(const torch::nn::Sequential& seq) {
  NestedSequential out;
  const auto children = seq->named_children();
  size_t i = 0;
  for (const auto& module : *seq) out->push_back(children[i++].key(), module);
  return out;
}

}  // namespace ptinfer::models
