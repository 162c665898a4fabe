#include "models/blocks/nested_sequential.h"

namespace ptinfer::models {

NestedSequential nested(const torch::nn::Sequential& seq) {
  NestedSequential out;
  const auto children = seq->named_children();
  size_t i = 0;
  // The same module objects under the same names ("0", "1", ... or the names pushed).
  for (const torch::nn::AnyModule& child : *seq) out->push_back(children[i++].key(), child);
  return out;
}

NestedSequential nested_conv_norm_act(const ConvNormActOptions& options, Init init) {
  return nested(conv_norm_act(options, init));
}

}  // namespace ptinfer::models
