#include <ATen/ATen.h>
#include <torch/csrc/jit/runtime/operator.h>

#include <optional>

#include "common/error.h"
#include "fastpath/graph/onednn_kernels.h"
#include "fastpath/graph/passes.h"

namespace ptinfer::fastpath::graph {
namespace {

// aten::_convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
// groups, ...) and aten::linear(input, weight, bias).
enum ConvInput { kInput, kWeight, kBias, kStride, kPadding, kDilation, kTransposed, kGroups = 8 };

c10::Symbol symbol(const char* name) { return c10::Symbol::fromQualString(name); }

bool is_float_tensor(const Graph& g, ValueId id) {
  const Value& v = g.values.at(id);
  if (v.constant) return v.constant->isTensor() && v.constant->toTensor().scalar_type() == at::kFloat;
  return v.dtype == at::kFloat;
}

std::optional<at::Tensor> constant_tensor(const Graph& g, ValueId id) {
  if (!g.is_constant(id) || !g.constant(id).isTensor()) return std::nullopt;
  return g.constant(id).toTensor();
}

std::optional<double> constant_number(const Graph& g, ValueId id) {
  if (!g.is_constant(id)) return std::nullopt;
  const c10::IValue& v = g.constant(id);
  if (v.isDouble()) return v.toDouble();
  if (v.isInt()) return static_cast<double>(v.toInt());
  return std::nullopt;
}

// The post-ops that compute `node` (an activation reading its first input), or nullopt.
std::optional<std::vector<PostOp>> activation(const Graph& g, const Node& node) {
  using A = dnnl::algorithm;
  const auto one = [](A algorithm, float alpha = 0.f, float beta = 0.f) {
    return std::vector<PostOp>{PostOp{PostOp::Kind::kEltwise, algorithm, alpha, beta}};
  };
  if (node.outputs.size() != 1) return std::nullopt;
  const std::string kind = node.kind.toQualString();
  const size_t args = node.inputs.size();
  if ((kind == "aten::relu" || kind == "aten::relu_") && args == 1) return one(A::eltwise_relu);
  if ((kind == "aten::silu" || kind == "aten::silu_") && args == 1) return one(A::eltwise_swish, 1.f);
  if ((kind == "aten::sigmoid" || kind == "aten::sigmoid_") && args == 1) {
    return one(A::eltwise_logistic);
  }
  if ((kind == "aten::hardswish" || kind == "aten::hardswish_") && args == 1) {
    return one(A::eltwise_hardswish);
  }
  if ((kind == "aten::hardsigmoid" || kind == "aten::hardsigmoid_") && args == 1) {
    // relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1)
    std::vector<PostOp> ops = one(A::eltwise_linear, 1.f / 6.f, 0.5f);
    ops.push_back(PostOp{PostOp::Kind::kEltwise, A::eltwise_clip, 0.f, 1.f});
    return ops;
  }
  if ((kind == "aten::hardtanh" || kind == "aten::hardtanh_") && args == 3) {
    const auto low = constant_number(g, node.inputs[1]), high = constant_number(g, node.inputs[2]);
    if (!low || !high) return std::nullopt;
    return one(A::eltwise_clip, static_cast<float>(*low), static_cast<float>(*high));
  }
  if ((kind == "aten::gelu" || kind == "aten::gelu_") && args == 2 &&
      g.is_constant(node.inputs[1]) && g.constant(node.inputs[1]).isString()) {
    const std::string approximate = g.constant(node.inputs[1]).toStringRef();
    if (approximate == "none") return one(A::eltwise_gelu_erf);
    if (approximate == "tanh") return one(A::eltwise_gelu_tanh);
  }
  return std::nullopt;
}

// What a fusion of the nodes after a convolution or linear node found.
struct Fusion {
  std::optional<at::Tensor> bias;  // a constant [O] added right after a linear layer with none
  std::vector<PostOp> post_ops;
  std::vector<size_t> absorbed;  // node indices, in order
  std::optional<ValueId> addend;
  SumDestination mode = SumDestination::kFresh;
  ValueId output = -1;
};

// The nodes after node `at` that fuse into its kernel. `bias_channels` > 0: the kernel has no
// bias of its own and takes a constant [bias_channels] added first as its bias.
Fusion fuse_after(const Graph& g, size_t at, const std::vector<int32_t>& uses,
                  const std::vector<std::vector<size_t>>& readers,
                  const std::vector<bool>& absorbed, int64_t bias_channels) {
  static const c10::Symbol add = symbol("aten::add"), add_ = symbol("aten::add_");
  Fusion f;
  f.output = g.nodes[at].outputs[0];
  const std::vector<int64_t> out_sizes = g.values[f.output].sizes;
  size_t last = at;
  while (uses[f.output] == 1 && readers[f.output].size() == 1) {
    const size_t r = readers[f.output][0];
    const Node& reader = g.nodes[r];
    // The fused node runs at the last node fused: nothing between may write memory.
    bool writes_between = false;
    for (size_t n = last + 1; n < r; ++n) writes_between |= is_in_place(g.nodes[n].kind);
    if (writes_between || r <= last || absorbed[r]) break;
    if (reader.inputs.empty() || reader.outputs.size() != 1) break;
    const bool is_add = (reader.kind == add || reader.kind == add_) && reader.inputs.size() == 3 &&
                        constant_number(g, reader.inputs[2]) == 1.0 &&
                        (reader.inputs[0] == f.output) != (reader.inputs[1] == f.output);
    const ValueId other =
        !is_add ? -1 : (reader.inputs[0] == f.output ? reader.inputs[1] : reader.inputs[0]);
    const std::optional<at::Tensor> constant = is_add ? constant_tensor(g, other) : std::nullopt;
    if (is_add && bias_channels > 0 && f.absorbed.empty() && constant &&
        constant->scalar_type() == at::kFloat && constant->dim() == 1 &&
        constant->size(0) == bias_channels && reader.inputs[0] == f.output) {
      f.bias = *constant;
    } else if (auto ops = activation(g, reader); ops && reader.inputs[0] == f.output) {
      f.post_ops.insert(f.post_ops.end(), ops->begin(), ops->end());
    } else if (is_add && !f.addend && !constant) {
      if (!is_float_tensor(g, other) || g.sizes_of(other) != out_sizes || out_sizes.empty()) break;
      f.addend = other;
      f.mode = reader.kind == add_ && reader.inputs[0] == other ? SumDestination::kAddend
                                                                 : SumDestination::kFresh;
      f.post_ops.push_back(PostOp{PostOp::Kind::kSum});
    } else {
      break;
    }
    f.absorbed.push_back(r);
    f.output = reader.outputs[0];
    last = r;
  }
  return f;
}

std::vector<int64_t> int_list(const Graph& g, ValueId id) {
  if (!g.is_constant(id) || !g.constant(id).isIntList()) return {};
  return g.constant(id).toIntVector();
}

// A node the pass lowers, before fusion: a convolution or a linear layer (aten::linear, and
// aten::addmm, aten::mm and aten::matmul with a constant 2-D second operand: how the tracer
// records a linear layer on 2-D and on batched inputs).
struct Candidate {
  ValueId input = -1;
  std::optional<ConvolutionSpec> convolution;
  std::optional<LinearSpec> linear;
};

std::optional<at::Tensor> float_weight(const Graph& g, const Node& node, size_t index) {
  if (node.inputs.size() <= index) return std::nullopt;
  auto w = constant_tensor(g, node.inputs[index]);
  if (!w || w->scalar_type() != at::kFloat || w->device() != at::kCPU) return std::nullopt;
  return w;
}

// A constant tensor, or None; nullopt in the optional means "not lowerable".
std::optional<std::optional<at::Tensor>> optional_bias(const Graph& g, ValueId id) {
  if (g.is_constant(id) && g.constant(id).isNone()) return std::optional<at::Tensor>();
  auto b = constant_tensor(g, id);
  if (!b || b->scalar_type() != at::kFloat || b->dim() != 1) return std::nullopt;
  return std::optional<at::Tensor>(*b);
}

std::optional<Candidate> candidate(const Graph& g, const Node& node) {
  const std::string kind = node.kind.toQualString();
  if (node.outputs.size() != 1) return std::nullopt;
  Candidate c;
  if (kind == "aten::_convolution" && node.inputs.size() == 13) {
    const auto w = float_weight(g, node, kWeight);
    const auto bias = optional_bias(g, node.inputs[kBias]);
    if (!w || !bias || !g.is_constant(node.inputs[kTransposed]) ||
        !g.constant(node.inputs[kTransposed]).isBool() ||
        g.constant(node.inputs[kTransposed]).toBool() || !g.is_constant(node.inputs[kGroups]) ||
        !g.constant(node.inputs[kGroups]).isInt()) {
      return std::nullopt;
    }
    ConvolutionSpec spec;
    spec.weight = *w;
    spec.bias = *bias;
    spec.stride = int_list(g, node.inputs[kStride]);
    spec.padding = int_list(g, node.inputs[kPadding]);
    spec.dilation = int_list(g, node.inputs[kDilation]);
    spec.groups = g.constant(node.inputs[kGroups]).toInt();
    c.input = node.inputs[kInput];
    c.convolution = spec;
  } else if (kind == "aten::linear" && node.inputs.size() == 3) {
    const auto w = float_weight(g, node, 1);
    const auto bias = optional_bias(g, node.inputs[2]);
    if (!w || !bias || w->dim() != 2) return std::nullopt;
    c.input = node.inputs[0];
    c.linear = LinearSpec{*w, *bias};
  } else if (kind == "aten::addmm" && node.inputs.size() == 5) {
    // addmm(self, mat1, mat2, beta, alpha) = beta * self + alpha * mat1 mat2
    const auto w = float_weight(g, node, 2);
    const auto bias = optional_bias(g, node.inputs[0]);
    if (!w || !bias || !*bias || w->dim() != 2 || constant_number(g, node.inputs[3]) != 1.0 ||
        constant_number(g, node.inputs[4]) != 1.0) {
      return std::nullopt;
    }
    c.input = node.inputs[1];
    c.linear = LinearSpec{w->t(), *bias};
  } else if ((kind == "aten::mm" || kind == "aten::matmul") && node.inputs.size() == 2) {
    const auto w = float_weight(g, node, 1);
    if (!w || w->dim() != 2 || g.sizes_of(node.inputs[0]).size() < 2) return std::nullopt;
    c.input = node.inputs[0];
    c.linear = LinearSpec{w->t(), std::nullopt};
  } else {
    return std::nullopt;
  }
  if (!is_float_tensor(g, c.input) || g.is_constant(c.input)) return std::nullopt;
  return c;
}

// The kernel for candidate `c` with the fusion `f`, or nullopt when oneDNN has no optimized one.
std::optional<OneDnnKernel> lower(const Graph& g, Candidate c, const Fusion& f,
                                  PackedWeightCache* cache, bool bf16) {
  try {
    if (c.convolution) {
      c.convolution->input_sizes = g.sizes_of(c.input);
      c.convolution->post_ops = f.post_ops;
      c.convolution->sum_destination = f.mode;
      c.convolution->bf16 = bf16;
      return make_convolution(*c.convolution, cache);
    }
    c.linear->input_sizes = g.sizes_of(c.input);
    if (f.bias) c.linear->bias = f.bias;
    c.linear->post_ops = f.post_ops;
    c.linear->sum_destination = f.mode;
    c.linear->bf16 = bf16;
    return make_linear(*c.linear, cache);
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kUnsupported) throw;
  }
  return std::nullopt;
}

// aten::matmul of two activations as a oneDNN matmul, or nullopt.
std::optional<Node> batched_matmul(const Graph& g, const Node& node, bool bf16) {
  static const c10::Symbol matmul = symbol("aten::matmul");
  if (node.kind != matmul || node.inputs.size() != 2 || node.outputs.size() != 1) {
    return std::nullopt;
  }
  for (ValueId in : node.inputs) {
    if (g.is_constant(in) || !is_float_tensor(g, in)) return std::nullopt;
  }
  try {
    OneDnnKernel k = make_matmul(g.sizes_of(node.inputs[0]), g.sizes_of(node.inputs[1]), bf16);
    return Node{symbol("onednn::matmul"), node.inputs, node.outputs, std::move(k.run),
                k.implementation};
  } catch (const Error& e) {
    if (e.kind() != ErrorKind::kUnsupported) throw;
  }
  return std::nullopt;
}

torch::jit::Operation operation_of(const char* name) {
  for (const auto& op : torch::jit::getAllOperatorsFor(symbol(name))) {
    if (op->schema().overload_name().empty()) return op->getOperation();
  }
  throw Error(ErrorKind::kInternal, std::string("fast path: LibTorch has no operator ") + name);
}

}  // namespace

int64_t lower_to_onednn(Graph& g, FoldMemo* memo, bool bf16) {
  const std::vector<int32_t> uses = g.use_counts();
  std::vector<std::vector<size_t>> readers(g.values.size());
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (ValueId in : g.nodes[n].inputs) readers[in].push_back(n);
  }
  PackedWeightCache* cache = memo != nullptr ? memo->packed_weights.get() : nullptr;
  std::vector<bool> absorbed(g.nodes.size(), false);
  std::vector<std::vector<Node>> emitted_at(g.nodes.size());  // fused nodes, by position
  std::vector<bool> replaced(g.nodes.size(), false);
  int64_t lowered = 0;
  bool lowered_convolution = false;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (absorbed[n]) continue;
    const Node& node = g.nodes[n];
    std::optional<Candidate> c = candidate(g, node);
    if (!c) {
      if (std::optional<Node> m = batched_matmul(g, node, bf16)) {
        replaced[n] = true;
        emitted_at[n].push_back(std::move(*m));
        ++lowered;
      }
      continue;
    }
    const int64_t bias_channels = c->linear && !c->linear->bias ? c->linear->weight.size(0) : 0;
    const Fusion f = fuse_after(g, n, uses, readers, absorbed, bias_channels);
    const bool is_convolution = c->convolution.has_value();
    const ValueId input = c->input;
    std::optional<OneDnnKernel> kernel = lower(g, std::move(*c), f, cache, bf16);
    if (!kernel) continue;
    Node fused{symbol(is_convolution ? "onednn::convolution" : "onednn::linear"),
               {input},
               {f.output},
               std::move(kernel->run),
               kernel->implementation};
    if (f.addend) fused.inputs.push_back(*f.addend);
    replaced[n] = true;
    for (size_t a : f.absorbed) absorbed[a] = true;
    emitted_at[f.absorbed.empty() ? n : f.absorbed.back()].push_back(std::move(fused));
    lowered_convolution |= is_convolution;
    ++lowered;
  }
  if (lowered == 0) return 0;
  std::vector<Node> nodes;
  static const c10::Symbol view = symbol("aten::view");
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    if (!replaced[n] && !absorbed[n]) {
      nodes.push_back(std::move(g.nodes[n]));
      if (lowered_convolution && nodes.back().kind == view) {
        nodes.back().kind = symbol("aten::reshape");
        nodes.back().run = operation_of("aten::reshape");
      }
    }
    for (Node& fused : emitted_at[n]) nodes.push_back(std::move(fused));
  }
  g.nodes = std::move(nodes);
  return lowered;
}

}  // namespace ptinfer::fastpath::graph
