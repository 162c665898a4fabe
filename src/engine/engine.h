// The Engine: one loaded model ready for inference. validate, predict, serve and bench differ
// only in where batches come from and where the logits go; all of them run an Engine.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "amp/policy.h"
#include "models/classifier.h"

namespace ptinfer::engine {

struct EngineOptions {
  std::string arch = "resnet50";  // registry name (models/registry.h)
  std::string checkpoint;         // --resume: a torch.save file; "" for none
  std::string checkpoint_key;     // --checkpoint-key: where the weights sit; "" picks as timm
  bool pretrained = false;        // load torchvision's weights from the torch hub cache first
  std::string device = "cpu";     // "cpu" or "cuda:N" (see device.h)
  int64_t num_classes = 0;        // 0: from the checkpoint's head, else 1000
  amp::Policy amp;                // --amp/--amp-dtype: precision policy (default O0, fp32)
};

// What the checkpoint said about itself, for the log and reports.
struct ModelInfo {
  std::string arch;
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  // the checkpoint's "classes", may be empty
  std::optional<int64_t> epoch;
  std::optional<double> best_acc1;
  std::string weights;  // where the weights came from (path or "random init")
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
  std::shared_ptr<models::ImageClassifier> model_;
  torch::Device device_;
  amp::Policy amp_;
  ModelInfo info_;
};

}  // namespace ptinfer::engine
