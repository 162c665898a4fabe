// The passes of the general fast path over a Graph (graph.h), each small and tested alone
// (passes_test.cpp: a small graph before and after, and its numbers against the graph without
// the pass). Each returns how many nodes it rewrote or removed.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "fastpath/graph/graph.h"

namespace ptinfer::fastpath::graph {

class PackedWeightCache;  // onednn_kernels.h

// Results of build-time work that several graphs of one model share (one graph per input
// shape): folds keyed by the identities of the constant tensors folded, so that a second graph
// reuses the first one's folded weights instead of holding a copy of its own, and the weights
// packed for oneDNN primitives.
struct FoldMemo {
  FoldMemo();
  ~FoldMemo();
  std::map<std::vector<const void*>, std::vector<c10::IValue>> results;
  std::shared_ptr<PackedWeightCache> packed_weights;
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

// Removes the nodes that are identities in inference: aten::dropout, aten::dropout_,
// aten::feature_dropout and aten::alpha_dropout with `train` a constant false (their readers
// read the input instead), so that they do not stand between a kernel and what fuses into it.
int64_t remove_inference_identities(Graph& graph);

// Removes nodes none of whose outputs is read (unless in place), then the values nothing reads
// any more (the constants of folded nodes, their tensors released), renumbering the rest.
int64_t remove_dead_nodes(Graph& graph);

// Replaces each fp32 aten::_convolution (2-D, not transposed, constant weights) and aten::linear
// (constant weights) by a oneDNN kernel (onednn_kernels.h; node kinds onednn::convolution and
// onednn::linear), with the nodes after it fused as post-ops while each is the only reader of
// the previous one's result: the activations of the zoo (ReLU, ReLU6 and other hardtanh,
// SiLU, Hardswish, Hardsigmoid, Sigmoid, GELU) and one residual aten::add / add_ of a float
// tensor of the same sizes, alpha 1. The fused node takes the place of the last node fused
// (an addend may be computed after the convolution), unless an in-place node lies between
// them, where the fusion stops. A node oneDNN has no optimized kernel for keeps LibTorch's.
// Convolutions write channels_last tensors, so where one was lowered every aten::view becomes
// aten::reshape (the same values; a copy where the strides do not allow a view).
// Packed weights go through memo's cache when a memo is given.
int64_t lower_to_onednn(Graph& graph, FoldMemo* memo = nullptr);

// The passes in order, as the fast path builds a graph: fold_constants,
// remove_inference_identities, fold_batch_norm, remove_dead_nodes, and with `onednn_kernels`
// lower_to_onednn (then remove_dead_nodes again for the constants it left unread).
void optimize(Graph& graph, FoldMemo* memo = nullptr, bool onednn_kernels = true);

}  // namespace ptinfer::fastpath::graph
