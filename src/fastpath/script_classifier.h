// A TorchScript module (torch.jit.save, scripted or traced) as an ImageClassifier, so that the
// general graph (graph_model.h) takes `--arch torchscript` archives through the same trace,
// passes and kernels as the zoo's models.
//
// Its forward runs the module's forward graph with every method call inlined, in one
// TorchScript interpreter frame of ours: while models::trace_graph records, each aten operator
// the interpreter calls is recorded (the interpreter's own instructions, attribute reads,
// branches and loops, are not: the record is the path this input took, as for a zoo model),
// and the module's weights come in as constants. Calling module.forward instead would hand the
// trace to TorchScript's executor, which inserts its unspecialized graph with its control flow.
#pragma once

#include <torch/script.h>

#include <memory>
#include <string>

#include "models/classifier.h"

namespace ptinfer::fastpath {

// `module`: eval mode, on the CPU, with a forward(Tensor) -> Tensor, loaded from `path` (named
// in errors). Its parameters stop requiring grad (inference only; the tracer records no tensor
// that requires grad as a constant). Throws Error(kUnsupported) when forward's graph does not
// take one tensor; its forward throws Error(kUnsupported), as engine/torchscript_model.h's
// does, when the module's code fails or returns anything but a tensor.
std::shared_ptr<models::ImageClassifier> script_classifier(torch::jit::Module module,
                                                           const std::string& path);

}  // namespace ptinfer::fastpath
