// The engine's fast path: an inference-only form of a model, built once at load.
//
// Two forms:
//   The ResNet runner, for the ResNet family: the model folded (folded_resnet.h: BatchNorm into
//   the convolutions) and run by one of two kernel sets on channels_last (NHWC) activations:
//     kOneDnn  oneDNN primitives called directly (onednn_resnet.h): conv + bias + ReLU and the
//              residual add fused as post-ops, weights reordered once, primitives and activation
//              buffers created once per input shape and reused. The default.
//     kTorch   LibTorch ops only (torch_resnet.h): folded channels_last weights, at::conv2d
//              (oneDNN underneath), in-place relu_/add_. Kept as the measured alternative.
//   The general graph (graph_model.h), for every other model and for the ResNets with kGraph:
//     the traced dataflow with constants and BatchNorm folded, convolutions, linear layers and
//     matmuls on oneDNN kernels with their activations and residual adds fused, the other
//     nodes on LibTorch's kernels.
// fp32 (O0) and the low-precision policies O2/O3 with bf16; O1 (autocast) and every other case
// keep the plain module.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>

#include "amp/policy.h"
#include "models/classifier.h"

namespace ptinfer::fastpath {

// kGraph: the general graph for the ResNets too (kOneDnn and kTorch name the ResNet runner's
// kernels; other models take the general graph under any of the three).
enum class Kernels { kOneDnn, kTorch, kGraph };

// The most images one OneDnnResNet forward runs at once by default (see OneDnnResNet's
// max_batch): larger batches run as slices of this many, so that the activation memory stays
// that of this batch size. See docs/perf-log.md ("validate, end to end") for the measurement behind it.
inline constexpr int64_t kDefaultMaxBatch = 8;

struct FastPathOptions {
  Kernels kernels = Kernels::kOneDnn;    // which implementation runs the folded model
  amp::Policy amp;                       // O0: fp32; O2/O3 with bf16: bf16 activations and weights
  torch::Device device = torch::kCPU;    // only the CPU has a fast path
  bool winograd = true;                  // fp32 3x3 convolutions through Winograd (OneDnnResNet)
  int64_t max_batch = kDefaultMaxBatch;  // OneDnnResNet runs larger batches in slices; 0: whole
};

// "onednn", "torch" or "graph" -> Kernels; throws Error(kInvalidArgument) naming `source`
// otherwise.
Kernels parse_kernels(const std::string& text, const std::string& source);
std::string to_string(Kernels kernels);

// The kernels named by PTINFER_FAST_PATH_KERNELS ("onednn", "torch", "graph"), kOneDnn when unset or
// empty; throws Error(kInvalidArgument) naming the variable for any other value.
Kernels kernels_from_env();

// PTINFER_FAST_PATH_WINOGRAD: "1" (the default when unset or empty) or "0"; throws
// Error(kInvalidArgument) naming the variable for any other value.
bool winograd_from_env();

// PTINFER_FAST_PATH_MAX_BATCH: a whole number >= 0 (0: no slicing), kDefaultMaxBatch when
// unset or empty; throws Error(kInvalidArgument) naming the variable for any other value.
int64_t max_batch_from_env();

// Why `model` under `options` has no fast path ("" when it has one): a device other than the
// CPU, O1, or fp16. (Which form runs is still chosen by the C++
// type, models::ResNet, for the runner; it goes when the general graph matches its speed.)
std::string unsupported_reason(const models::ImageClassifier& model,
                               const FastPathOptions& options);

// Which form build() gives `model` under `options`: "resnet runner (onednn)", "resnet runner
// (torch)", "graph", or "" when unsupported_reason() is not empty.
std::string fast_path_form(const models::ImageClassifier& model, const FastPathOptions& options);

// The fast form of `model` (an eval-mode model whose weights are loaded and still fp32; the
// policy is applied by the fast form itself), or nullptr when unsupported_reason() is not empty.
// The result is a new module: the ResNet runner shares nothing with `model`; the general graph
// keeps `model` (to trace the shapes it has not seen yet) and never modifies it. forward(x)
// takes [N, 3, H, W] in any float dtype and returns logits [N, num_classes] in the policy's
// dtype (fp32 for O0, bf16 for O2/O3), as the plain module does. Like the Engine: one caller
// at a time.
std::shared_ptr<models::ImageClassifier> build(std::shared_ptr<models::ImageClassifier> model,
                                               const FastPathOptions& options);

}  // namespace ptinfer::fastpath
