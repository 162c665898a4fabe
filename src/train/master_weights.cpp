#include "train/master_weights.h"

namespace ptinfer::train {

MasterWeights::MasterWeights(std::vector<torch::Tensor> params) : params_(std::move(params)) {
  torch::NoGradGuard no_grad;
  masters_.reserve(params_.size());
  for (const auto& p : params_) {
    if (p.scalar_type() == torch::kFloat) {
      masters_.push_back(p);
    } else {
      masters_.push_back(p.detach().to(torch::kFloat).clone());
    }
  }
}

void MasterWeights::grads_to_masters() {
  for (size_t k = 0; k < params_.size(); ++k) {
    if (masters_[k].is_same(params_[k])) continue;
    const torch::Tensor& g = params_[k].grad();
    masters_[k].mutable_grad() = g.defined() ? g.detach().to(torch::kFloat) : torch::Tensor();
  }
}

void MasterWeights::masters_to_params() {
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < params_.size(); ++k) {
    if (!masters_[k].is_same(params_[k])) params_[k].copy_(masters_[k]);
  }
}

void MasterWeights::clear_grads() {
  for (size_t k = 0; k < params_.size(); ++k) {
    params_[k].mutable_grad().reset();
    masters_[k].mutable_grad().reset();
  }
}

}  // namespace ptinfer::train
