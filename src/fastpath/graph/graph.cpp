#include "fastpath/graph/graph.h"

#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>

#include <unordered_map>

#include "common/error.h"

namespace ptinfer::fastpath::graph {

ValueId Graph::add_constant(c10::IValue value) {
  Value v;
  v.constant = std::move(value);
  values.push_back(std::move(v));
  return static_cast<ValueId>(values.size() - 1);
}

ValueId Graph::add_value() {
  values.emplace_back();
  return static_cast<ValueId>(values.size() - 1);
}

std::vector<int64_t> Graph::sizes_of(ValueId id) const {
  const Value& v = values.at(id);
  if (v.constant && v.constant->isTensor()) {
    const auto s = v.constant->toTensor().sizes();
    return {s.begin(), s.end()};
  }
  return v.sizes;
}

std::vector<int32_t> Graph::use_counts() const {
  std::vector<int32_t> uses(values.size(), 0);
  for (const Node& node : nodes) {
    for (ValueId in : node.inputs) ++uses.at(in);
  }
  if (output >= 0) ++uses.at(output);
  return uses;
}

void Graph::replace_uses(ValueId from, ValueId to) {
  for (Node& node : nodes) {
    for (ValueId& in : node.inputs) {
      if (in == from) in = to;
    }
  }
  if (output == from) output = to;
}

bool is_in_place(c10::Symbol kind) {
  const std::string name = kind.toUnqualString();
  return !name.empty() && name.back() == '_' && name.rfind("__", 0) != 0;
}

namespace {

// The sizes and dtype the trace recorded for a tensor value (complete types: the tracer saw the
// tensors).
void record_type(const torch::jit::Value* traced, Value& value) {
  const auto type = traced->type()->cast<c10::TensorType>();
  if (!type) return;
  if (const auto sizes = type->sizes().concrete_sizes()) value.sizes = *sizes;
  if (const auto dtype = type->scalarType()) value.dtype = *dtype;
}

// The prim nodes of a trace, which the interpreter runs as instructions of its own (they have
// no registered operator): lists and tuples built and taken apart. nullopt for any other prim.
c10::optional<torch::jit::Operation> prim_operation(const torch::jit::Node* node) {
  const size_t inputs = node->inputs().size(), outputs = node->outputs().size();
  if (node->kind() == c10::prim::ListConstruct) {
    const auto list_type = node->output()->type()->cast<c10::ListType>();
    if (!list_type) return c10::nullopt;
    const c10::TypePtr element = list_type->getElementType();
    return torch::jit::Operation([element, inputs](torch::jit::Stack& stack) {
      c10::impl::GenericList list(element);
      list.reserve(inputs);
      for (size_t i = stack.size() - inputs; i < stack.size(); ++i) list.push_back(stack[i]);
      torch::jit::drop(stack, inputs);
      stack.emplace_back(std::move(list));
    });
  }
  if (node->kind() == c10::prim::ListUnpack) {
    return torch::jit::Operation([outputs](torch::jit::Stack& stack) {
      const c10::List<c10::IValue> list = torch::jit::pop(stack).toList();
      if (list.size() != outputs) {
        throw Error(ErrorKind::kInternal, "fast path graph: prim::ListUnpack of " +
                                              std::to_string(list.size()) + " elements into " +
                                              std::to_string(outputs));
      }
      for (const c10::IValue& element : list) stack.push_back(element);
    });
  }
  if (node->kind() == c10::prim::TupleConstruct) {
    return torch::jit::Operation([inputs](torch::jit::Stack& stack) {
      std::vector<c10::IValue> elements(stack.end() - inputs, stack.end());
      torch::jit::drop(stack, inputs);
      stack.emplace_back(c10::ivalue::Tuple::create(std::move(elements)));
    });
  }
  if (node->kind() == c10::prim::TupleUnpack) {
    return torch::jit::Operation([](torch::jit::Stack& stack) {
      const auto tuple = torch::jit::pop(stack).toTuple();
      for (const c10::IValue& element : tuple->elements()) stack.push_back(element);
    });
  }
  return c10::nullopt;
}

}  // namespace

Graph from_trace(const torch::jit::Graph& traced) {
  if (traced.inputs().size() != 1 || traced.outputs().size() != 1) {
    throw Error(ErrorKind::kUnsupported,
                "fast path graph: the traced forward has " +
                    std::to_string(traced.inputs().size()) + " inputs and " +
                    std::to_string(traced.outputs().size()) + " outputs, not 1 and 1");
  }
  Graph graph;
  std::unordered_map<const torch::jit::Value*, ValueId> ids;
  graph.input = graph.add_value();
  record_type(traced.inputs()[0], graph.values[graph.input]);
  ids[traced.inputs()[0]] = graph.input;
  const auto id_of = [&](const torch::jit::Value* value) {
    auto it = ids.find(value);
    if (it == ids.end()) {
      throw Error(ErrorKind::kInternal,
                  "fast path graph: %" + value->debugName() + " is read before it is written");
    }
    return it->second;
  };
  for (const torch::jit::Node* node : traced.nodes()) {
    if (node->kind() == c10::prim::Constant) {
      c10::optional<c10::IValue> value = torch::jit::toIValue(node->output());
      if (!value) {
        throw Error(ErrorKind::kUnsupported, "fast path graph: a prim::Constant of type " +
                                                 node->output()->type()->str() + " has no value");
      }
      ids[node->output()] = graph.add_constant(std::move(*value));
      continue;
    }
    c10::optional<torch::jit::Operation> op = prim_operation(node);
    if (!op && node->maybeOperator() != nullptr) op = node->getOperation();
    if (!op) {
      throw Error(ErrorKind::kUnsupported, std::string("fast path graph: node ") +
                                               node->kind().toQualString() +
                                               " has no LibTorch operator");
    }
    Node converted{node->kind(), {}, {}, std::move(*op)};
    for (const torch::jit::Value* in : node->inputs()) converted.inputs.push_back(id_of(in));
    for (const torch::jit::Value* out : node->outputs()) {
      const ValueId id = graph.add_value();
      record_type(out, graph.values[id]);
      ids[out] = id;
      converted.outputs.push_back(id);
    }
    graph.nodes.push_back(std::move(converted));
  }
  graph.output = id_of(traced.outputs()[0]);
  return graph;
}

std::map<std::string, int64_t> node_kinds(const Graph& graph) {
  std::map<std::string, int64_t> kinds;
  for (const Node& node : graph.nodes) ++kinds[node.kind.toQualString()];
  return kinds;
}

}  // namespace ptinfer::fastpath::graph
