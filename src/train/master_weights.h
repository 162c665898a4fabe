// Apex's master weights for O2/O3: the model computes with low-precision parameters, the
// optimizer updates fp32 copies ("masters"), and the updated values are cast back into the model
// after each step, so that updates smaller than the low dtype's resolution are not lost.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace ptinfer::train {

class MasterWeights {
 public:
  // One master per parameter: an fp32 copy (detached, no grad) for a parameter of another
  // floating dtype, the parameter itself for an fp32 one (O0/O1, and BatchNorm under O2).
  explicit MasterWeights(std::vector<torch::Tensor> params);

  // What the optimizer updates, in the order of `params`.
  const std::vector<torch::Tensor>& masters() const { return masters_; }
  const std::vector<torch::Tensor>& params() const { return params_; }

  // Each master that is a copy gets its parameter's gradient cast to fp32 (undefined when the
  // parameter has none). Call after backward, before unscaling and stepping.
  void grads_to_masters();

  // Casts every master copy back into its parameter. Call after a step was taken.
  void masters_to_params();

  // Drops the gradients of parameters and masters (PyTorch's zero_grad(set_to_none=True)).
  void clear_grads();

  // The master of params()[k] (the parameter itself when it is fp32).
  const torch::Tensor& master(size_t k) const { return masters_[k]; }

 private:
  std::vector<torch::Tensor> params_;
  std::vector<torch::Tensor> masters_;
};

}  // namespace ptinfer::train
