#include <string>
#include <unordered_set>

#include "common/error.h"
#include "fastpath/graph/passes.h"

namespace ptinfer::fastpath::graph {
namespace {

// Kernels whose result is not a function of their inputs alone.
bool draws_random_numbers(c10::Symbol kind) {
  const std::string name = kind.toUnqualString();
  for (const char* word : {"rand", "bernoulli", "normal", "uniform", "dropout", "multinomial",
                           "poisson", "exponential", "geometric", "cauchy"}) {
    if (name.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

int64_t fold_constants(Graph& graph) {
  // The storages of the constants the record came with: the model's own parameters and buffers
  // among them, which nothing may write into.
  std::unordered_set<const void*> recorded;
  for (const Value& v : graph.values) {
    if (v.constant && v.constant->isTensor() && v.constant->toTensor().has_storage()) {
      recorded.insert(v.constant->toTensor().storage().unsafeGetStorageImpl());
    }
  }
  const auto writes_recorded = [&](const Node& node) {
    if (node.inputs.empty() || !graph.is_constant(node.inputs[0])) return false;
    const c10::IValue& target = graph.constant(node.inputs[0]);
    return target.isTensor() && target.toTensor().has_storage() &&
           recorded.count(target.toTensor().storage().unsafeGetStorageImpl()) > 0;
  };
  int64_t folded = 0;
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size());
  for (Node& node : graph.nodes) {
    // In program order, an in-place node on constants too (a mask built by filling slices of
    // a zeros tensor, Swin's shifted-window attention): the nodes after it then read what it
    // wrote, as in the forward. Never one that writes into a tensor of the record.
    bool all_constant =
        !draws_random_numbers(node.kind) && !(is_in_place(node.kind) && writes_recorded(node));
    for (ValueId in : node.inputs) all_constant = all_constant && graph.is_constant(in);
    if (!all_constant) {
      kept.push_back(std::move(node));
      continue;
    }
    torch::jit::Stack stack;
    for (ValueId in : node.inputs) stack.push_back(graph.constant(in));
    node.run(stack);
    for (size_t k = 0; k < node.outputs.size(); ++k) {
      graph.values.at(node.outputs[k]).constant = std::move(stack.at(k));
    }
    ++folded;
  }
  graph.nodes = std::move(kept);
  // What is left may not write into a constant: every run would see the last one's writes.
  for (const Node& node : graph.nodes) {
    if (is_in_place(node.kind) && !node.inputs.empty() && graph.is_constant(node.inputs[0])) {
      throw Error(ErrorKind::kUnsupported, std::string("fast path graph: ") +
                                               node.kind.toQualString() +
                                               " writes into a constant of the graph");
    }
  }
  return folded;
}

}  // namespace ptinfer::fastpath::graph
