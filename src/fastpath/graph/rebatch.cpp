#include "fastpath/graph/rebatch.h"

#include <ATen/ATen.h>

namespace ptinfer::fastpath::graph {
namespace {

bool same_wiring(const Graph& a, const Graph& b) {
  if (a.nodes.size() != b.nodes.size() || a.values.size() != b.values.size() ||
      a.input != b.input || a.output != b.output) {
    return false;
  }
  for (size_t n = 0; n < a.nodes.size(); ++n) {
    const Node &x = a.nodes[n], &y = b.nodes[n];
    if (x.kind != y.kind || x.inputs != y.inputs || x.outputs != y.outputs) return false;
  }
  return true;
}

bool same_tensor(const at::Tensor& a, const at::Tensor& b) {
  if (a.is_same(b)) return true;
  return a.sizes() == b.sizes() && a.strides() == b.strides() &&
         a.scalar_type() == b.scalar_type() && a.device() == b.device() && at::equal(a, b);
}

int64_t linear(int64_t v1, int64_t v2, int64_t n) { return v1 + (v2 - v1) * (n - 1); }

// The constant of batch n from those of batches 1 and 2, or nullopt.
std::optional<c10::IValue> rebatch_constant(const c10::IValue& one, const c10::IValue& two,
                                            int64_t n) {
  if (one.isInt() && two.isInt()) return c10::IValue(linear(one.toInt(), two.toInt(), n));
  if (one.isIntList() && two.isIntList()) {
    const std::vector<int64_t> a = one.toIntVector(), b = two.toIntVector();
    if (a.size() != b.size()) return std::nullopt;
    std::vector<int64_t> out(a.size());
    for (size_t i = 0; i < a.size(); ++i) out[i] = linear(a[i], b[i], n);
    return c10::IValue(out);
  }
  if (one.isTensor() && two.isTensor()) {
    if (!same_tensor(one.toTensor(), two.toTensor())) return std::nullopt;
    return one;
  }
  if (one.isNone() && two.isNone()) return one;
  if (one.isBool() && two.isBool() && one.toBool() == two.toBool()) return one;
  if (one.isDouble() && two.isDouble() && one.toDouble() == two.toDouble()) return one;
  if (one.isString() && two.isString() && one.toStringRef() == two.toStringRef()) return one;
  if (one.isDevice() && two.isDevice() && one.toDevice() == two.toDevice()) return one;
  return std::nullopt;
}

bool same_constant(const c10::IValue& a, const c10::IValue& b) {
  if (a.isTensor() && b.isTensor()) return same_tensor(a.toTensor(), b.toTensor());
  if (a.isTensor() != b.isTensor()) return false;
  return a == b;
}

}  // namespace

std::optional<Graph> rebatch(const Graph& one, const Graph& two, int64_t n) {
  if (n < 1 || !same_wiring(one, two)) return std::nullopt;
  Graph out = one;
  for (size_t v = 0; v < one.values.size(); ++v) {
    const Value &a = one.values[v], &b = two.values[v];
    if (a.constant.has_value() != b.constant.has_value() || a.dtype != b.dtype ||
        a.sizes.size() != b.sizes.size()) {
      return std::nullopt;
    }
    if (a.constant) {
      std::optional<c10::IValue> c = rebatch_constant(*a.constant, *b.constant, n);
      if (!c) return std::nullopt;
      out.values[v].constant = std::move(*c);
    }
    for (size_t i = 0; i < a.sizes.size(); ++i) {
      out.values[v].sizes[i] = linear(a.sizes[i], b.sizes[i], n);
    }
  }
  return out;
}

bool same_graph(const Graph& a, const Graph& b) {
  if (!same_wiring(a, b)) return false;
  for (size_t v = 0; v < a.values.size(); ++v) {
    const Value &x = a.values[v], &y = b.values[v];
    if (x.sizes != y.sizes || x.dtype != y.dtype ||
        x.constant.has_value() != y.constant.has_value()) {
      return false;
    }
    if (x.constant && !same_constant(*x.constant, *y.constant)) return false;
  }
  return true;
}

}  // namespace ptinfer::fastpath::graph
