// A graph for any batch size from the records of small batches, so that a batch of N is never
// traced itself: LibTorch's tracer keeps every intermediate tensor of the forward it records
// alive until the record ends (vit_b_16 at batch 32: 2.9 GB more than the forward's own peak),
// and a server's dynamic batches would each pay a trace.
//
// A record fixes every size it saw: the batch appears in int constants (a reshape's [N, -1],
// an expand's [N, -1, -1]) and in the recorded sizes of the values. Given the graphs of batch 1
// and batch 2 of the same input size, structurally equal, each int that differs between them
// is taken to be linear in the batch (v1 + (v2 - v1) (N - 1)); anything else must be equal.
#pragma once

#include <cstdint>
#include <optional>

#include "fastpath/graph/graph.h"

namespace ptinfer::fastpath::graph {

// The graph of batch `n` (>= 1) predicted from `one` and `two` (from_trace of batch 1 and 2,
// before any pass), or nullopt when they differ in more than batch-linear ints: other node
// kinds or wiring, other constants (a tensor, a float, a string), list lengths or ranks. The
// result shares the constants and kernels of `one`.
std::optional<Graph> rebatch(const Graph& one, const Graph& two, int64_t n);

// Whether `a` and `b` are the same graph: nodes (kinds, wiring), constants (tensors by identity
// or equal values) and recorded sizes. (For checking rebatch against a real record.)
bool same_graph(const Graph& a, const Graph& b);

}  // namespace ptinfer::fastpath::graph
