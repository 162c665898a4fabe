#include <ATen/ATen.h>

#include "fastpath/graph/passes.h"

namespace ptinfer::fastpath::graph {
namespace {

// aten::batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
// cudnn_enabled) and aten::_convolution(input, weight, bias, stride, padding, dilation,
// transposed, output_padding, groups, benchmark, deterministic, cudnn_enabled, allow_tf32).
enum BatchNormInput { kBnInput, kBnWeight, kBnBias, kBnMean, kBnVar, kBnTraining, kBnEps = 7 };
enum ConvInput { kConvInput, kConvWeight, kConvBias, kConvTransposed = 6 };

const void* identity(const c10::IValue& v) {
  return v.isTensor() ? static_cast<const void*>(v.toTensor().unsafeGetTensorImpl()) : nullptr;
}

bool constant_tensor(const Graph& g, ValueId id) {
  return g.is_constant(id) && g.constant(id).isTensor();
}

bool constant_tensor_or_none(const Graph& g, ValueId id) {
  return g.is_constant(id) && (g.constant(id).isTensor() || g.constant(id).isNone());
}

bool constant_false(const Graph& g, ValueId id) {
  return g.is_constant(id) && g.constant(id).isBool() && !g.constant(id).toBool();
}

// The folded (weight, bias) of `conv` followed by `bn`.
std::vector<c10::IValue> folded_weights(const Graph& g, const Node& conv, const Node& bn) {
  const at::Tensor weight = g.constant(conv.inputs[kConvWeight]).toTensor();
  const auto as_double = [](const at::Tensor& t) { return t.to(at::kCPU, at::kDouble); };
  const at::Tensor var = as_double(g.constant(bn.inputs[kBnVar]).toTensor());
  const at::Tensor mean = as_double(g.constant(bn.inputs[kBnMean]).toTensor());
  const c10::IValue& gamma_v = g.constant(bn.inputs[kBnWeight]);
  const c10::IValue& beta_v = g.constant(bn.inputs[kBnBias]);
  const c10::IValue& bias_v = g.constant(conv.inputs[kConvBias]);
  const double eps = g.constant(bn.inputs[kBnEps]).toDouble();
  const at::Tensor gamma = gamma_v.isTensor() ? as_double(gamma_v.toTensor()) : at::ones_like(var);
  const at::Tensor beta = beta_v.isTensor() ? as_double(beta_v.toTensor()) : at::zeros_like(var);
  const at::Tensor bias = bias_v.isTensor() ? as_double(bias_v.toTensor()) : at::zeros_like(var);
  const at::Tensor scale = gamma / at::sqrt(var + eps);
  std::vector<int64_t> per_channel(weight.dim(), 1);
  per_channel[0] = -1;
  const at::Tensor w = (as_double(weight) * scale.reshape(per_channel)).to(weight.scalar_type());
  const at::Tensor b = ((bias - mean) * scale + beta).to(weight.scalar_type());
  return {w.contiguous(), b.contiguous()};
}

}  // namespace

int64_t fold_batch_norm(Graph& g, FoldMemo* memo) {
  std::vector<int32_t> producer(g.values.size(), -1);
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (ValueId out : g.nodes[n].outputs) producer[out] = static_cast<int32_t>(n);
  }
  std::vector<int32_t> uses = g.use_counts();
  static const c10::Symbol batch_norm = c10::Symbol::fromQualString("aten::batch_norm");
  static const c10::Symbol convolution = c10::Symbol::fromQualString("aten::_convolution");
  std::vector<bool> removed(g.nodes.size(), false);
  int64_t folded = 0;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& bn = g.nodes[n];
    if (bn.kind != batch_norm || bn.inputs.size() != 9 || bn.outputs.size() != 1) continue;
    const int32_t p = producer[bn.inputs[kBnInput]];
    if (p < 0 || g.nodes[p].kind != convolution || uses[bn.inputs[kBnInput]] != 1) continue;
    Node& conv = g.nodes[p];
    if (!constant_false(g, bn.inputs[kBnTraining]) || !constant_tensor(g, bn.inputs[kBnMean]) ||
        !constant_tensor(g, bn.inputs[kBnVar]) ||
        !constant_tensor_or_none(g, bn.inputs[kBnWeight]) ||
        !constant_tensor_or_none(g, bn.inputs[kBnBias]) || !g.is_constant(bn.inputs[kBnEps]) ||
        !g.constant(bn.inputs[kBnEps]).isDouble() || conv.inputs.size() != 13 ||
        !constant_tensor(g, conv.inputs[kConvWeight]) ||
        !constant_tensor_or_none(g, conv.inputs[kConvBias]) ||
        !constant_false(g, conv.inputs[kConvTransposed])) {
      continue;
    }
    std::vector<c10::IValue> weights;
    std::vector<const void*> key;
    for (ValueId id : {conv.inputs[kConvWeight], conv.inputs[kConvBias], bn.inputs[kBnWeight],
                       bn.inputs[kBnBias], bn.inputs[kBnMean], bn.inputs[kBnVar]}) {
      key.push_back(identity(g.constant(id)));
    }
    if (memo != nullptr && memo->results.count(key)) {
      weights = memo->results.at(key);
    } else {
      weights = folded_weights(g, conv, bn);
      if (memo != nullptr) memo->results[key] = weights;
    }
    conv.inputs[kConvWeight] = g.add_constant(weights[0]);
    conv.inputs[kConvBias] = g.add_constant(weights[1]);
    g.replace_uses(bn.outputs[0], conv.outputs[0]);
    removed[n] = true;
    ++folded;
  }
  std::vector<Node> kept;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (!removed[n]) kept.push_back(std::move(g.nodes[n]));
  }
  g.nodes = std::move(kept);
  return folded;
}

}  // namespace ptinfer::fastpath::graph
