#include "fastpath/graph/passes.h"

namespace ptinfer::fastpath::graph {

int64_t remove_dead_nodes(Graph& graph) {
  // Backwards: a node lives when it writes in place or a live node (or the output) reads it.
  std::vector<bool> read(graph.values.size(), false);
  read.at(graph.output) = true;
  std::vector<bool> live(graph.nodes.size(), false);
  for (size_t n = graph.nodes.size(); n-- > 0;) {
    const Node& node = graph.nodes[n];
    bool needed = is_in_place(node.kind);
    for (ValueId out : node.outputs) needed = needed || read[out];
    if (!needed) continue;
    live[n] = true;
    for (ValueId in : node.inputs) read[in] = true;
  }
  // Renumber the values still read or written, in their old order.
  std::vector<ValueId> renamed(graph.values.size(), -1);
  std::vector<Value> values;
  const auto keep = [&](ValueId id) {
    if (renamed[id] < 0) {
      renamed[id] = static_cast<ValueId>(values.size());
      values.push_back(std::move(graph.values[id]));
    }
  };
  keep(graph.input);
  std::vector<Node> nodes;
  int64_t removed = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!live[n]) {
      ++removed;
      continue;
    }
    Node& node = graph.nodes[n];
    for (ValueId& in : node.inputs) {
      keep(in);
      in = renamed[in];
    }
    for (ValueId& out : node.outputs) {
      keep(out);
      out = renamed[out];
    }
    nodes.push_back(std::move(node));
  }
  keep(graph.output);
  graph.output = renamed[graph.output];
  graph.input = renamed[graph.input];
  graph.values = std::move(values);
  graph.nodes = std::move(nodes);
  return removed;
}

}  // namespace ptinfer::fastpath::graph
