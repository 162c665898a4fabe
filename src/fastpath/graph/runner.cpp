#include "fastpath/graph/runner.h"

#include <chrono>
#include <string>

#include "common/error.h"
#include "fastpath/graph/profile.h"

namespace ptinfer::fastpath::graph {

GraphRunner::GraphRunner(Graph graph) : graph_(std::move(graph)) {
  std::vector<bool> known(graph_.values.size(), false);
  known.at(graph_.input) = true;
  for (size_t i = 0; i < graph_.values.size(); ++i) {
    if (graph_.values[i].constant) known[i] = true;
  }
  std::vector<int32_t> last_reader(graph_.values.size(), -1);
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    const Node& node = graph_.nodes[n];
    for (ValueId in : node.inputs) {
      if (!known.at(in)) {
        throw Error(ErrorKind::kInternal, std::string("fast path graph: node ") +
                                              std::to_string(n) + " (" + node.kind.toQualString() +
                                              ") reads value " + std::to_string(in) +
                                              " before it is written");
      }
      last_reader[in] = static_cast<int32_t>(n);
    }
    for (ValueId out : node.outputs) known.at(out) = true;
  }
  if (!known.at(graph_.output)) {
    throw Error(ErrorKind::kInternal, "fast path graph: the output is never written");
  }
  released_after_.resize(graph_.nodes.size());
  unread_outputs_.resize(graph_.nodes.size());
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    for (ValueId out : graph_.nodes[n].outputs) {
      // Written and never read (an in-place node's alias of its input, an unused element of
      // an unpacked list): dropped as soon as it is written, so that it does not keep the
      // memory it shares alive to the end of the run.
      if (last_reader[out] < 0 && out != graph_.output) unread_outputs_[n].push_back(out);
    }
  }
  for (size_t v = 0; v < last_reader.size(); ++v) {
    // Constants stay; the output is kept for the caller.
    if (last_reader[v] < 0 || graph_.values[v].constant ||
        static_cast<ValueId>(v) == graph_.output) {
      continue;
    }
    released_after_[last_reader[v]].push_back(static_cast<ValueId>(v));
  }
}

at::Tensor GraphRunner::run(const at::Tensor& input) {
  std::vector<c10::IValue> slots(graph_.values.size());
  for (size_t i = 0; i < graph_.values.size(); ++i) {
    if (graph_.values[i].constant) slots[i] = *graph_.values[i].constant;
  }
  slots.at(graph_.input) = input;
  torch::jit::Stack stack;
  const bool timed = profiling();
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    Node& node = graph_.nodes[n];
    stack.clear();
    for (ValueId in : node.inputs) stack.push_back(slots[in]);
    // Released before the kernel runs, so that the stack holds the last reference to an
    // activation read for the last time (an in-place kernel may then reuse its memory).
    for (ValueId dead : released_after_[n]) slots[dead] = c10::IValue();
    if (timed) {
      const auto start = std::chrono::steady_clock::now();
      node.run(stack);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      std::string kind = node.kind.toQualString();
      if (!node.implementation.empty()) kind += " (" + node.implementation + ")";
      record_node_time(kind, took.count());
    } else {
      node.run(stack);
    }
    if (stack.size() != node.outputs.size()) {
      throw Error(ErrorKind::kInternal, std::string("fast path graph: ") +
                                            node.kind.toQualString() + " returned " +
                                            std::to_string(stack.size()) + " values, not " +
                                            std::to_string(node.outputs.size()));
    }
    for (size_t k = 0; k < node.outputs.size(); ++k) slots[node.outputs[k]] = std::move(stack[k]);
    for (ValueId unread : unread_outputs_[n]) slots[unread] = c10::IValue();
  }
  return slots.at(graph_.output).toTensor();
}

}  // namespace ptinfer::fastpath::graph
