// What a model's forward computes on one input, read from the JIT tracer's record of it: the
// aten ops the zoo's single definition runs (parameters recorded as constants), no per-model
// code. Today it gives the op census and the multiply-adds (`ptinfer models --gflops`); the
// general fast path will take its graph from the same record.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "models/classifier.h"

namespace torch::jit {
struct Graph;
}

namespace ptinfer::models {

struct ForwardTrace {
  std::map<std::string, int64_t> node_kinds;  // e.g. "aten::_convolution" -> 20, constants left out
  // Of the convolutions and matrix products (convolution, mm, bmm, addmm, baddbmm, matmul,
  // linear): output elements times the length of each dot product, torchvision's GFLOPS
  // convention (a multiply-add counts once).
  int64_t multiply_adds = 0;
};

// Traces `model`'s forward on `input` (as it is: eval or train mode, the caller's choice) under
// no_grad. Parameters that require grad are switched off for the trace (the tracer records
// them as constants) and back on after. Throws Error(kInternal) naming the node when the
// record lacks a shape it needs; errors of the forward itself propagate.
ForwardTrace trace_forward(ImageClassifier& model, const at::Tensor& input);

// The tracer's record itself, as trace_forward takes it: one graph input (the image batch), one
// output (the logits); parameters and buffers are prim::Constant tensors (the model's own
// tensors, not copies); every size the forward derived from its input is a constant too, so the
// record holds for this input shape only.
std::shared_ptr<torch::jit::Graph> trace_graph(ImageClassifier& model, const at::Tensor& input);

}  // namespace ptinfer::models
