// The passes of the general fast path over a Graph (graph.h), each small and tested alone
// (passes_test.cpp: a small graph before and after, and its numbers against the graph without
// the pass). Each returns how many nodes it rewrote or removed.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "fastpath/graph/graph.h"

namespace ptinfer::fastpath::graph {

// Results of folds that several graphs of one model share (one graph per input shape): keyed by
// the identities of the constant tensors folded, so that a second graph reuses the first one's
// folded weights instead of holding a copy of its own.
struct FoldMemo {
  std::map<std::vector<const void*>, std::vector<c10::IValue>> results;
};

// Runs at build time, in program order, every node whose inputs are all constants (int lists,
// Swin's relative position bias gathered from its table, its attention mask filled slice by
// slice, ...), unless it draws random numbers or writes into a tensor the record came with
// (the model's weights); its outputs become constants. Throws Error(kUnsupported) when a node
// left to run would write into a constant (each run would see the previous run's writes).
int64_t fold_constants(Graph& graph);

// aten::batch_norm in inference form (training false; running statistics, weight and bias
// constant) whose input is an aten::_convolution's output read by nothing else, with constant
// weight and bias (or none), not transposed: the BatchNorm goes, the convolution gets the folded
// weight (weight * gamma / sqrt(var + eps) per output channel) and bias ((bias - mean) *
// gamma / sqrt(var + eps) + beta), computed in double and rounded once to the weight's dtype.
int64_t fold_batch_norm(Graph& graph, FoldMemo* memo = nullptr);

// Removes nodes none of whose outputs is read (unless in place), then the values nothing reads
// any more (the constants of folded nodes, their tensors released), renumbering the rest.
int64_t remove_dead_nodes(Graph& graph);

// The passes in order, as the fast path builds a graph.
void optimize(Graph& graph, FoldMemo* memo = nullptr);

}  // namespace ptinfer::fastpath::graph
