// Small models for the graph tests, each an ImageClassifier (what models::trace_graph takes)
// built from LibTorch modules, with BatchNorm statistics and affine parameters drawn at random
// so that a wrong fold shows in the numbers; and two helpers the tests compare graphs with.
#pragma once

#include <torch/torch.h>

#include <string>

#include "fastpath/graph/graph.h"
#include "models/classifier.h"

namespace ptinfer::fastpath::graph::testing {

// ||y - ref|| / ||ref||.
inline double rel_l2(const torch::Tensor& y, const torch::Tensor& ref) {
  return ((y - ref).norm() / ref.norm()).item<double>();
}

// How many nodes of `kind` ("aten::relu", "onednn::convolution", ...) the graph has.
inline int64_t count(const Graph& g, const std::string& kind) {
  const auto kinds = node_kinds(g);
  auto it = kinds.find(kind);
  return it == kinds.end() ? 0 : it->second;
}

// Random running statistics and affine parameters (a BatchNorm at its defaults is an identity
// that any fold gets right).
inline void randomize(torch::nn::BatchNorm2d& bn) {
  torch::NoGradGuard no_grad;
  bn->running_mean.normal_(0, 0.5);
  bn->running_var.uniform_(0.5, 2.0);
  bn->weight.uniform_(0.5, 1.5);
  bn->bias.normal_(0, 0.5);
}

// conv(3 -> 8, 3x3, stride 2) -> BatchNorm -> ReLU -> [conv(8 -> 8, 1x1, bias) -> BatchNorm ->
// + shortcut] -> global average pool -> flatten -> linear(8 -> 5). `shared_conv_output`: the
// second conv's output is also the shortcut, so its BatchNorm cannot be folded.
struct ConvBnNet : models::ImageClassifier {
  explicit ConvBnNet(bool shared_conv_output = false) : shared(shared_conv_output) {
    torch::manual_seed(1);
    conv1 = register_module(
        "conv1",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).stride(2).padding(1).bias(false)));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(8));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 1)));
    bn2 = register_module("bn2", torch::nn::BatchNorm2d(8));
    fc = register_module("fc", torch::nn::Linear(8, 5));
    randomize(bn1);
    randomize(bn2);
    eval();
  }
  torch::Tensor forward(torch::Tensor x) override {
    x = torch::relu(bn1(conv1(x)));
    torch::Tensor y = conv2(x);
    y = bn2(y) + (shared ? y : x);
    return fc(torch::flatten(torch::adaptive_avg_pool2d(y, {1, 1}), 1));
  }
  bool shared;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Linear fc{nullptr};
};

// An in-place ReLU, and a constant table gathered by a constant index (Swin's relative position
// bias in miniature) added to the pooled features. (A branch whose result nothing reads does not
// show in a trace at all: the tracer drops it.)
struct MixedNet : models::ImageClassifier {
  MixedNet() {
    torch::manual_seed(2);
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3).padding(1)));
    table = register_buffer("table", torch::randn({6, 4}));
    index = register_buffer("index", torch::tensor({5, 0, 3, 3}, torch::kInt64));
    eval();
  }
  torch::Tensor forward(torch::Tensor x) override {
    torch::Tensor y = conv(x);
    torch::relu_(y);
    const torch::Tensor bias = table.index_select(0, index).sum(0);  // [4], constant
    return torch::flatten(y.mean({2, 3}) + bias, 1);
  }
  torch::nn::Conv2d conv{nullptr};
  torch::Tensor table, index;
};

// Every activation of the zoo after a convolution (each a post-op candidate), residual adds of
// both kinds (out of place, and in place onto the addend, whose value is read again after),
// an addend read after the add, and a head of linear layers on 3-D tokens (aten::matmul and a
// bias add in the trace) and on 2-D features (aten::addmm), with an attention-like product of
// two activations.
struct ActivationNet : models::ImageClassifier {
  ActivationNet() {
    torch::manual_seed(3);
    for (int i = 0; i < 8; ++i) {
      convs.push_back(register_module(
          "conv" + std::to_string(i),
          torch::nn::Conv2d(torch::nn::Conv2dOptions(8, 8, 3).padding(1).groups(i == 3 ? 8 : 1))));
    }
    stem = register_module("stem", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3).stride(2)));
    tokens = register_module("tokens", torch::nn::Linear(8, 16));
    mlp = register_module("mlp", torch::nn::Linear(16, 16));
    head = register_module("head", torch::nn::Linear(16, 5));
    eval();
  }
  torch::Tensor forward(torch::Tensor x) override {
    namespace F = torch::nn::functional;
    x = stem(x);
    x = torch::hardtanh(convs[0](x), 0.0, 6.0);                 // ReLU6
    x = torch::hardswish(convs[1](x));
    x = x * torch::hardsigmoid(convs[2](x));                    // squeeze-excitation-like
    x = torch::silu(convs[3](x));                               // depthwise
    x = F::gelu(convs[4](x), F::GELUFuncOptions().approximate("none")) + x;  // residual
    torch::Tensor a = torch::sigmoid(convs[5](x));
    torch::Tensor b = convs[6](a) + a;                          // a read again below
    a.add_(convs[7](b));                                        // in place onto the addend
    x = b + a;
    torch::Tensor t = torch::relu(tokens(x.flatten(2).transpose(1, 2)));  // [N, HW, 16]
    t = t + F::gelu(mlp(t), F::GELUFuncOptions().approximate("tanh"));
    t = torch::matmul(torch::softmax(torch::matmul(t, t.transpose(1, 2)), -1), t);
    return head(t.mean(1));
  }
  std::vector<torch::nn::Conv2d> convs;
  torch::nn::Conv2d stem{nullptr};
  torch::nn::Linear tokens{nullptr}, mlp{nullptr}, head{nullptr};
};

}  // namespace ptinfer::fastpath::graph::testing
