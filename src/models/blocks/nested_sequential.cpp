#include "models/blocks/nested_sequential.h"

namespace ptinfer::models {

NestedSequential nested(const torch::nn::Sequential& seq) {
  NestedSequential out;
  for (const torch::nn::AnyModule& child : *seq) out->push_back(child);
  return out;
}

NestedSequential nested_conv_norm_act(const ConvNormActOptions& options, Init init) {
  return nested(conv_norm_act(options, init));
}

}  // namespace ptinfer::models
