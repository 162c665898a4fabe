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

// Replaces each fp32 aten::_convolution (2-D, not transposed, constant weights), linear layer
// (aten::linear, and aten::addmm / mm / matmul with a constant 2-D weight: the tracer's record
// of a linear layer) and aten::matmul of two activations by a oneDNN kernel
// (onednn_kernels.h; node kinds onednn::convolution, onednn::linear, onednn::matmul), with
// the nodes after a convolution or linear layer fused as post-ops while each is the only reader
// of the previous one's result: a constant bias add (for a linear layer without a bias), the
// activations of the zoo (ReLU, ReLU6 and other hardtanh, SiLU, Hardswish, Hardsigmoid,
// Sigmoid, GELU) and one residual aten::add / add_ of a float tensor of the same sizes, alpha
// 1. The fused node takes the place of the last node fused (an addend may be computed after
// the convolution), unless an in-place node lies between them, where the fusion stops. A node
// oneDNN has no optimized kernel for keeps LibTorch's. Convolutions write channels_last
// tensors, so where one was lowered every aten::view becomes aten::reshape (the same values; a
// copy where the strides do not allow a view). `bf16`: the kernels compute in bf16 (see
// onednn_kernels.h). Packed weights go through memo's cache when a memo is given.
int64_t lower_to_onednn(Graph& graph, FoldMemo* memo = nullptr, bool bf16 = false);

// For a graph whose kernels compute in bf16: every fp32 constant tensor becomes bf16 (the
// other nodes' weights, such as LayerNorm's, embeddings, masks), as Apex O2 casts a model's
// parameters and buffers, except, with `keep_batch_norm_fp32` (O2; false for O3), those an
// aten::batch_norm reads (LibTorch's BatchNorm takes bf16 inputs with fp32 statistics).
int64_t cast_constants_to_bf16(Graph& graph, bool keep_batch_norm_fp32);

struct OptimizeOptions {
  bool onednn_kernels = true;  // lower_to_onednn; false: LibTorch's kernels for every node
  // kFloat32, or kBFloat16 for Apex O2 (bf16 kernels, BatchNorm fp32) and O3 (everything bf16).
  c10::ScalarType dtype = c10::ScalarType::Float;
  bool keep_batch_norm_fp32 = true;
};

// The passes in order, as the fast path builds a graph: fold_constants,
// remove_inference_identities, fold_batch_norm, remove_dead_nodes, then with onednn_kernels
// lower_to_onednn (and remove_dead_nodes again, for the constants it left unread), and for
// bf16 cast_constants_to_bf16.
void optimize(Graph& graph, FoldMemo* memo = nullptr, const OptimizeOptions& options = {});

}  // namespace ptinfer::fastpath::graph
