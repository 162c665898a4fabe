#include "fastpath/graph/passes.h"

namespace ptinfer::fastpath::graph {

int64_t remove_inference_identities(Graph& graph) {
  static const std::vector<c10::Symbol> dropouts = {
      c10::Symbol::fromQualString("aten::dropout"), c10::Symbol::fromQualString("aten::dropout_"),
      c10::Symbol::fromQualString("aten::feature_dropout"),
      c10::Symbol::fromQualString("aten::alpha_dropout")};
  std::vector<Node> kept;
  int64_t removed = 0;
  for (Node& node : graph.nodes) {
    // dropout(input, p, train)
    const bool identity =
        std::find(dropouts.begin(), dropouts.end(), node.kind) != dropouts.end() &&
        node.inputs.size() == 3 && node.outputs.size() == 1 && graph.is_constant(node.inputs[2]) &&
        graph.constant(node.inputs[2]).isBool() && !graph.constant(node.inputs[2]).toBool();
    if (!identity) {
      kept.push_back(std::move(node));
      continue;
    }
    graph.replace_uses(node.outputs[0], node.inputs[0]);
    ++removed;
  }
  graph.nodes = std::move(kept);
  return removed;
}

}  // namespace ptinfer::fastpath::graph
