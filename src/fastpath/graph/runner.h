// Runs a Graph (graph.h): each node's kernel in order on a table of values, every activation
// released right after the last node that reads it (one nothing reads, right after it is
// written), so the memory held at any moment is that of
// the values still to be read (the graph's widest point), not the sum along its depth.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "fastpath/graph/graph.h"

namespace ptinfer::fastpath::graph {

class GraphRunner {
 public:
  // Takes the graph as the passes left it. Throws Error(kInternal) when a node reads a value
  // that neither the input, a constant nor an earlier node provides.
  explicit GraphRunner(Graph graph);

  // The graph's output for `input` (of the shape the graph was traced for; the caller checks).
  // Not thread-safe: one caller at a time, as the Engine.
  at::Tensor run(const at::Tensor& input);

  const Graph& graph() const { return graph_; }

 private:
  Graph graph_;
  std::vector<std::vector<ValueId>> released_after_;  // per node: values read last by it
  std::vector<std::vector<ValueId>> unread_outputs_;  // per node: its outputs nothing reads
};

}  // namespace ptinfer::fastpath::graph
