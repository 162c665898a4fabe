// What the Engine runs: a native registry model (models/) or a TorchScript module, behind one
// interface, so validate/predict/serve/bench work the same with either.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "amp/policy.h"
#include "models/classifier.h"

namespace ptinfer::engine {

class Model {
 public:
  virtual ~Model() = default;

  // x: [N, 3, H, W] on the model's device, in the policy's input dtype -> logits [N, C].
  // Called under InferenceMode (and the autocast guard for O1) by Engine::run.
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;

  // Moves the parameters and buffers to `device` and switches to inference (eval).
  virtual void to_device_eval(const torch::Device& device) = 0;

  // Applies the O2/O3 weight casts of `policy` (amp/model_policy.h): O2 keeps BatchNorm's
  // tensors fp32. O0/O1 change nothing. Call once, after to_device_eval.
  virtual void apply_policy(const amp::Policy& policy) = 0;
};

// Wraps a registry model (weights already loaded).
std::unique_ptr<Model> wrap_native(std::shared_ptr<models::ImageClassifier> model);

}  // namespace ptinfer::engine
