// torchvision's Permute (torchvision/ops/misc.py): torch.permute(x, dims) as a module, so that
// it holds its place (and its index in state-dict keys) inside an nn::Sequential, as in ConvNeXt's
// and Swin's Sequentials. No state-dict entries.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace ptinfer::models {

class PermuteImpl : public torch::nn::Module {
 public:
  explicit PermuteImpl(std::vector<int64_t> dims) : dims_(std::move(dims)) {}
  // x.permute(dims): a view; throws c10::Error when dims do not match x's rank.
  torch::Tensor forward(const torch::Tensor& x) { return x.permute(dims_); }
  const std::vector<int64_t>& dims() const { return dims_; }

 private:
  std::vector<int64_t> dims_;
};
TORCH_MODULE(Permute);

}  // namespace ptinfer::models
