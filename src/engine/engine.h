// The Engine: one loaded model ready for inference. validate, predict, serve and bench differ
// only in where batches come from and where the logits go; all of them run an Engine.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amp/policy.h"
#include "engine/model.h"

namespace ptinfer::engine {

// --arch value that runs a TorchScript archive (engine/torchscript_model.h) instead of a
// registry model.
inline constexpr const char* kTorchScriptArch = "torchscript";

struct EngineOptions {
  std::string arch = "resnet50";  // registry name (models/registry.h) or kTorchScriptArch
  std::string checkpoint;         // --resume: a torch.save file (a torch.jit.save archive for
                                  // kTorchScriptArch); "" for none
  std::string checkpoint_key;     // --checkpoint-key: where the weights sit; "" picks as timm
  bool pretrained = false;        // load torchvision's weights from the torch hub cache first
  std::string device = "cpu";     // "cpu" or "cuda:N" (see device.h)
  int64_t num_classes = 0;        // 0: from the checkpoint's head, else 1000
  amp::Policy amp;                // --amp/--amp-dtype: precision policy (default O0, fp32)
  bool fast_path = true;          // false (--no-fast-path): run the plain eager module; true:
                                  // the folded, fused form (fastpath/fast_path.h) where one exists
  int64_t input_size = 224;       // side of the [1, 3, S, S] zeros a TorchScript model is probed
                                  // with for its number of classes (the crop size)
};

// What the checkpoint said about itself, for the log and reports.
struct ModelInfo {
  std::string arch;
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  // the checkpoint's "classes", may be empty
  std::optional<int64_t> epoch;
  std::optional<double> best_acc1;
  std::string weights;  // where the weights came from (path or "random init")
  // The input size the weights fix (a ViT's positional embedding), 0 when they fix none.
  int64_t input_size = 0;
};

// Path of torchvision's weight file for `arch` in the torch hub cache:
// $TORCH_HOME/hub/checkpoints/<file>, TORCH_HOME defaulting to ~/.cache/torch.
std::string pretrained_weights_path(const std::string& arch);

class Engine {
 public:
  // Builds the model, loads weights (pretrained, then the checkpoint), moves it to the device and
  // switches it to inference (eval), then applies the precision policy (amp/model_policy.h).
  // Throws ptinfer::Error from the registry and the checkpoint reader; Error(kNotFound) for
  // --pretrained weights missing from the cache, saying where to put them; Error(kUnsupported)
  // for a policy the device cannot run (fp16 on the CPU).
  // arch == kTorchScriptArch: loads options.checkpoint with torch::jit::load (its code runs,
  // see torchscript_model.h), applies the policy (O1 autocast; O2/O3 cast the module's
  // parameters and buffers, BatchNorm's kept fp32 by O2) and takes num_classes from a forward
  // on [1, 3, input_size, input_size] zeros. Throws Error(kInvalidArgument) without
  // --resume, with --pretrained or --checkpoint-key, or for a num_classes other than the
  // model's; Error(kUnsupported) when that forward fails or does not return [1, C] logits.
  // A TorchScript archive given with a registry arch is read as weights only (nothing runs).
  explicit Engine(const EngineOptions& options);

  // Runs the model on a [N, 3, H, W] float batch (any device) under inference mode and the
  // precision policy (O1: autocast; O2/O3: the batch is cast to the low dtype) and returns
  // float32 logits [N, num_classes] on the CPU, whatever the policy. Thread-compatible, not thread-safe: one caller at
  // a time.
  torch::Tensor run(const torch::Tensor& batch);

  const ModelInfo& info() const { return info_; }
  const torch::Device& device() const { return device_; }
  const amp::Policy& amp_policy() const { return amp_; }

 private:
  void init_torchscript(const EngineOptions& options);

  std::unique_ptr<Model> model_;
  torch::Device device_;
  amp::Policy amp_;
  ModelInfo info_;
};

}  // namespace ptinfer::engine
