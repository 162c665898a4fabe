#include <ATen/ATen.h>

#include "fastpath/graph/passes.h"

namespace ptinfer::fastpath::graph {

int64_t cast_constants_to_bf16(Graph& graph, bool keep_batch_norm_fp32) {
  static const c10::Symbol batch_norm = c10::Symbol::fromQualString("aten::batch_norm");
  std::vector<bool> keep(graph.values.size(), false);
  if (keep_batch_norm_fp32) {
    for (const Node& node : graph.nodes) {
      if (node.kind != batch_norm) continue;
      for (size_t i = 1; i < node.inputs.size() && i <= 4; ++i) keep[node.inputs[i]] = true;
    }
  }
  int64_t cast = 0;
  for (size_t v = 0; v < graph.values.size(); ++v) {
    Value& value = graph.values[v];
    if (keep[v] || !value.constant || !value.constant->isTensor()) continue;
    const at::Tensor& t = value.constant->toTensor();
    if (t.scalar_type() != at::kFloat) continue;
    value.constant = c10::IValue(t.to(at::kBFloat16));
    ++cast;
  }
  return cast;
}

}  // namespace ptinfer::fastpath::graph
