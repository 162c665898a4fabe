#include "models/forward_trace.h"

#include <torch/csrc/jit/frontend/tracer.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/torch.h>

#include <vector>

#include "common/error.h"

namespace ptinfer::models {
namespace {

std::vector<int64_t> sizes_of(const torch::jit::Node* node, const torch::jit::Value* value) {
  const auto type = value->type()->cast<c10::TensorType>();
  const auto sizes = type ? type->sizes().concrete_sizes() : c10::nullopt;
  if (!sizes) {
    throw Error(ErrorKind::kInternal,
                std::string("forward trace: no shape recorded for ") + node->kind().toQualString());
  }
  return *sizes;
}

int64_t numel(const std::vector<int64_t>& sizes) {
  int64_t n = 1;
  for (int64_t d : sizes) n *= d;
  return n;
}

// Multiply-adds of one traced node; 0 for nodes that have none.
int64_t multiply_adds(const torch::jit::Node* node) {
  const std::string kind = node->kind().toQualString();
  const auto out = [&] { return numel(sizes_of(node, node->output(0))); };
  const auto last = [&](size_t input) { return sizes_of(node, node->input(input)).back(); };
  if (kind == "aten::_convolution" || kind == "aten::convolution" || kind == "aten::conv2d") {
    const std::vector<int64_t> w = sizes_of(node, node->input(1));
    return out() * (numel(w) / w.at(0));  // (input channels / groups) x kernel per output
  }
  if (kind == "aten::mm" || kind == "aten::bmm" || kind == "aten::matmul" ||
      kind == "aten::linear") {
    return out() * last(0);
  }
  if (kind == "aten::addmm" || kind == "aten::baddbmm") return out() * last(1);
  return 0;
}

// Turns requires_grad off on `model`'s parameters for its lifetime (the tracer refuses to
// record a tensor that requires grad as a constant), and back on where it was.
class NoParameterGrad {
 public:
  explicit NoParameterGrad(torch::nn::Module& model) {
    for (auto& p : model.parameters()) {
      if (!p.requires_grad()) continue;
      p.set_requires_grad(false);
      switched_.push_back(p);
    }
  }
  ~NoParameterGrad() {
    for (auto& p : switched_) p.set_requires_grad(true);
  }
  NoParameterGrad(const NoParameterGrad&) = delete;
  NoParameterGrad& operator=(const NoParameterGrad&) = delete;

 private:
  std::vector<torch::Tensor> switched_;
};

}  // namespace

std::shared_ptr<torch::jit::Graph> trace_graph(ImageClassifier& model, const at::Tensor& input) {
  torch::NoGradGuard no_grad;
  NoParameterGrad parameters(model);
  auto traced = torch::jit::tracer::trace(
      {input},
      [&model](torch::jit::Stack in) -> torch::jit::Stack {
        return {model.forward(in.at(0).toTensor())};
      },
      [](const torch::autograd::Variable&) { return std::string(); }, /*strict=*/false,
      /*force_outplace=*/false);
  return traced.first->graph;
}

ForwardTrace trace_forward(ImageClassifier& model, const at::Tensor& input) {
  const std::shared_ptr<torch::jit::Graph> graph = trace_graph(model, input);
  ForwardTrace trace;
  for (const torch::jit::Node* node : graph->nodes()) {
    if (node->kind() != c10::prim::Constant) ++trace.node_kinds[node->kind().toQualString()];
    trace.multiply_adds += multiply_adds(node);
  }
  return trace;
}

}  // namespace ptinfer::models
