// A model's dataflow as the general fast path sees it: values (the image batch, constants such
// as weights and sizes, and node results) and nodes in execution order, each one aten or prim
// operation with its inputs and outputs by index and LibTorch's kernel for it.
//
// It is taken from the JIT tracer's record of one forward (models::trace_graph), so it comes
// from the zoo's single definition with no code per model; the passes (passes.h) rewrite it and
// GraphRunner (runner.h) runs it. Like the record, a graph holds for one input shape.
#pragma once

#include <ATen/core/ivalue.h>
#include <ATen/core/stack.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace torch::jit {
struct Graph;
}

namespace ptinfer::fastpath::graph {

using ValueId = int32_t;

struct Value {
  std::optional<c10::IValue> constant;  // set: known when the graph is built (weights, sizes)
  // A tensor value's sizes and dtype as the trace recorded them (the graph holds for one input
  // shape); empty / nullopt for other values and for values added by passes.
  std::vector<int64_t> sizes;
  std::optional<c10::ScalarType> dtype;
};

struct Node {
  c10::Symbol kind;             // aten::_convolution, aten::batch_norm, prim::ListConstruct, ...
  std::vector<ValueId> inputs;  // in the operator's argument order
  std::vector<ValueId> outputs;
  // The kernel: pops inputs.size() values from the stack, pushes outputs.size() results.
  torch::jit::Operation run;
  // Where a pass put a kernel of ours: the library's implementation ("brg:avx512_core", ...).
  std::string implementation = {};
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;  // in execution order: a node's inputs are the graph input,
                            // constants or outputs of nodes before it
  ValueId input = -1;       // the image batch
  ValueId output = -1;      // the logits

  ValueId add_constant(c10::IValue value);
  ValueId add_value();
  // The sizes of a tensor value: the recorded ones, or a constant tensor's; empty if unknown.
  std::vector<int64_t> sizes_of(ValueId id) const;
  bool is_constant(ValueId id) const { return values.at(id).constant.has_value(); }
  const c10::IValue& constant(ValueId id) const { return *values.at(id).constant; }
  // How many node inputs (and the graph output) read each value.
  std::vector<int32_t> use_counts() const;
  // Every read of `from` (node inputs, the graph output) reads `to` instead.
  void replace_uses(ValueId from, ValueId to);
};

// Whether a node of this kind writes into one of its inputs (aten::relu_, aten::add_, ...):
// such a node is never removed by a pass, and run at build time only on constants that are not
// the model's own tensors (fold_constants).
bool is_in_place(c10::Symbol kind);

// The graph of a traced forward (models::trace_graph): prim::Constant nodes become constants,
// every other node keeps its kind and LibTorch's operator. Throws Error(kUnsupported) naming
// the node kind when a node has no operator, or when the record has other than one tensor
// input and one output.
Graph from_trace(const torch::jit::Graph& traced);

// Node kinds and their counts, e.g. {"aten::_convolution": 20, ...}.
std::map<std::string, int64_t> node_kinds(const Graph& graph);

}  // namespace ptinfer::fastpath::graph
