// A Sequential that can be a child of another Sequential. LibTorch's nn::Sequential cannot: its
// forward() is a template, which AnyModule (what a Sequential holds its children as) refuses.
// torchvision nests Sequentials everywhere (a Conv2dNormActivation inside a block's Sequential,
// a stage's blocks inside features), and the state-dict keys follow that nesting
// ("features.2.0.block.1.0.weight"); NestedSequential keeps the nesting and the keys.
#pragma once

#include <torch/nn/modules/container/sequential.h>

#include <utility>

#include "models/blocks/conv_norm_act.h"
#include "models/classifier.h"

namespace ptinfer::models {

// nn::SequentialImpl with a forward of one fixed signature (Tensor -> Tensor): the children run
// in order, as Sequential::forward runs them. Children are named "0", "1", ... as in Sequential.
class NestedSequentialImpl : public torch::nn::SequentialImpl {
 public:
  using SequentialImpl::SequentialImpl;
  torch::Tensor forward(torch::Tensor x) { return SequentialImpl::forward(std::move(x)); }
};
TORCH_MODULE(NestedSequential);

// A NestedSequential of `seq`'s children (the same module objects, in order, under the same
// names), to put a Sequential built elsewhere inside another Sequential.
NestedSequential nested(const torch::nn::Sequential& seq);

// conv_norm_act(options, init) as a NestedSequential: torchvision's Conv2dNormActivation where it
// sits inside a Sequential (same children, same keys, same errors).
NestedSequential nested_conv_norm_act(const ConvNormActOptions& options, Init init);

}  // namespace ptinfer::models
