// Test-only checks that every family's own test (FAMILY_test.cpp) runs on its architectures
// through the registry: what the parity test (zoo_parity_test.cpp, eval mode, loaded weights)
// cannot show. Each takes the input size as an argument where a family needs its own.
// Header-only; included by models_tests; failures are reported through gtest, naming the
// architecture.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "models/registry.h"

namespace ptinfer::models::checks {

inline std::string shape_string(at::IntArrayRef shape) {
  std::ostringstream s;
  s << shape;
  return s.str();
}

// forward() refuses every input that is not [N, 3, H, W] with Error(kInvalidArgument) whose
// message names the expected layout and the given shape.
inline void expect_rejects_non_image_batches(const std::string& arch) {
  auto model = create_model(arch, 10, Init::kSkip);
  model->eval();
  torch::NoGradGuard no_grad;
  const std::vector<std::vector<int64_t>> bad = {
      {2, 1, 32, 32}, {2, 4, 32, 32}, {3, 32, 32}, {1, 2, 3, 32, 32}};
  for (const auto& shape : bad) {
    try {
      model->forward(torch::zeros(shape));
      ADD_FAILURE() << arch << ": input " << shape_string(shape) << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << arch;
      const std::string msg = e.what();
      EXPECT_NE(msg.find("[N, 3, H, W]"), std::string::npos) << arch << ": " << msg;
      EXPECT_NE(msg.find(shape_string(shape)), std::string::npos) << arch << ": " << msg;
    }
  }
}

// Whether `key` starts with one of `prefixes`.
inline bool has_prefix(const std::string& key, const std::vector<std::string>& prefixes) {
  for (const auto& prefix : prefixes) {
    if (key.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

// The inputs of the checks below unless a family needs another size (alexnet 63x63,
// inception_v3 75x75) or a cheaper one: a batch of 4 at 48x48 for training, dropout and bf16,
// 2 at 64x64 for kSkip's forward.
inline const std::vector<int64_t> kCheckInput = {4, 3, 48, 48};
inline const std::vector<int64_t> kSkipCheckInput = {2, 3, 64, 64};

// Init::kSkip builds the same modules as Init::kTorchvision (printed module tree, parameter
// names, shapes, requires_grad, buffers), with convolution and linear parameters uninitialised and
// BatchNorm at LibTorch's defaults; given the initialised model's state it computes the same
// eval-mode logits, [N, 10], bit for bit for an input of `input_shape`.
inline void expect_skip_builds_the_same_modules(
    const std::string& arch, const std::vector<int64_t>& input_shape = kSkipCheckInput) {
  torch::manual_seed(0);
  auto reference = create_model(arch, 10, Init::kTorchvision);
  auto skipped = create_model(arch, 10, Init::kSkip);
  std::ostringstream printed_reference, printed_skipped;
  printed_reference << *reference;
  printed_skipped << *skipped;
  EXPECT_EQ(printed_reference.str(), printed_skipped.str()) << arch;
  const auto reference_params = reference->named_parameters();
  const auto params = skipped->named_parameters();
  ASSERT_EQ(reference_params.size(), params.size()) << arch;
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_EQ(params[i].key(), reference_params[i].key()) << arch;
    EXPECT_EQ(params[i].value().sizes(), reference_params[i].value().sizes())
        << arch << " " << params[i].key();
    EXPECT_TRUE(params[i].value().requires_grad()) << arch << " " << params[i].key();
  }
  for (const auto& item : skipped->named_modules("", /*include_self=*/false)) {
    if (const auto* bn = item.value()->as<torch::nn::BatchNorm2d>()) {
      EXPECT_TRUE(torch::all(bn->weight == 1).item<bool>() &&
                  torch::all(bn->bias == 0).item<bool>())
          << arch << " " << item.key();
    }
  }
  const auto reference_buffers = reference->named_buffers();
  const auto buffers = skipped->named_buffers();
  ASSERT_EQ(reference_buffers.size(), buffers.size()) << arch;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) params[i].value().copy_(reference_params[i].value());
  for (size_t i = 0; i < buffers.size(); ++i) {
    ASSERT_EQ(buffers[i].key(), reference_buffers[i].key()) << arch;
    buffers[i].value().copy_(reference_buffers[i].value());
  }
  reference->eval();
  skipped->eval();
  const torch::Tensor x = torch::randn(input_shape);
  const torch::Tensor y = reference->forward(x);
  EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{input_shape[0], 10})) << arch;
  EXPECT_TRUE(torch::equal(y, skipped->forward(x))) << arch;
}

// Class targets for a batch of `n` (cross entropy in the training checks): 1, 3, 5, ...
inline torch::Tensor check_targets(int64_t n) {
  return (torch::arange(n, torch::kLong) * 2 + 1) % 10;
}

// One training step's forward and backward (what finetune does) on an input of `input_shape`:
// [N, 10] logits; every parameter gets a finite gradient, some of them non-zero, but those whose
// name starts with one of `unused_prefixes` (heads that must not run: googlenet's and
// inception_v3's auxiliary ones), which get none; BatchNorm's running statistics move outside
// those heads. An in-place op on a tensor autograd saved would throw here.
inline void expect_trains(const std::string& arch,
                          const std::vector<int64_t>& input_shape = kCheckInput,
                          const std::vector<std::string>& unused_prefixes = {}) {
  torch::manual_seed(0);
  auto model = create_model(arch, 10, Init::kTorchvision);
  model->train();
  std::vector<std::pair<std::string, torch::Tensor>> means_before;
  for (const auto& b : model->named_buffers()) {
    if (b.key().find("running_mean") != std::string::npos && !has_prefix(b.key(), unused_prefixes))
      means_before.emplace_back(b.key(), b.value().clone());
  }
  const torch::Tensor logits = model->forward(torch::randn(input_shape));
  ASSERT_EQ(logits.sizes().vec(), (std::vector<int64_t>{input_shape[0], 10})) << arch;
  torch::nn::functional::cross_entropy(logits, check_targets(input_shape[0])).backward();
  double total = 0.0;
  int unused = 0;
  for (const auto& p : model->named_parameters()) {
    if (has_prefix(p.key(), unused_prefixes)) {
      ++unused;
      EXPECT_FALSE(p.value().grad().defined()) << arch << ": " << p.key() << " was run";
      continue;
    }
    ASSERT_TRUE(p.value().grad().defined()) << arch << ": no gradient for " << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << arch << " " << p.key();
    total += p.value().grad().abs().sum().item<double>();
  }
  EXPECT_GT(total, 0.0) << arch;
  if (!unused_prefixes.empty()) {
    EXPECT_GT(unused, 0) << arch << ": the prefixes name nothing";
  }
  const auto buffers = model->named_buffers();
  for (const auto& [key, before] : means_before) {
    EXPECT_FALSE(torch::equal(buffers[key], before)) << arch << ": " << key << " unchanged";
  }
}

// In training mode the classifier's Dropout (and stochastic depth, where there is one) is
// active: the same input gives different outputs of `run` twice; in eval mode it gives the same.
inline void expect_dropout_only_in_training(torch::nn::Module& model,
                                            const std::function<torch::Tensor(torch::Tensor)>& run,
                                            const std::vector<int64_t>& input_shape,
                                            const std::string& arch) {
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn(input_shape);
  torch::NoGradGuard no_grad;
  model.train();
  EXPECT_FALSE(torch::equal(run(x), run(x))) << arch << ": no dropout in train()";
  model.eval();
  EXPECT_TRUE(torch::equal(run(x), run(x))) << arch << ": random in eval()";
}

// The same for the registry's model of `arch` and its forward.
inline void expect_dropout_only_in_training(
    const std::string& arch, const std::vector<int64_t>& input_shape = kCheckInput) {
  torch::manual_seed(0);
  auto model = create_model(arch, 10, Init::kTorchvision);
  expect_dropout_only_in_training(
      *model, [&](torch::Tensor x) { return model->forward(x); }, input_shape, arch);
}

// O2's cast done by hand (amp::apply_to_model casts the same tensors): every module's own
// floating-point parameters and buffers in bf16 except BatchNorm's, which stay fp32.
inline void cast_like_o2(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (const auto& module : model.modules(/*include_self=*/true)) {
    if (module->as<torch::nn::BatchNorm2d>() != nullptr) continue;
    for (auto& p : module->named_parameters(/*recurse=*/false)) {
      p.value().set_data(p.value().to(torch::kBFloat16));
    }
    for (auto& b : module->named_buffers(/*recurse=*/false)) {
      if (b.value().is_floating_point()) b.value().set_data(b.value().to(torch::kBFloat16));
    }
  }
}

// Under O2 (bf16 weights but BatchNorm's, bf16 input of `input_shape`) eval logits are bf16,
// finite and near the fp32 model's (relative L2 < 5%, printed), and a training step's backward
// runs with finite gradients for every parameter outside `unused_prefixes`: no tensor the
// forward creates has a fixed dtype.
inline void expect_runs_in_bfloat16(const std::string& arch,
                                    const std::vector<int64_t>& input_shape = kCheckInput,
                                    const std::vector<std::string>& unused_prefixes = {}) {
  torch::manual_seed(0);
  auto model = create_model(arch, 10, Init::kTorchvision);
  model->eval();
  const torch::Tensor x = torch::randn(input_shape);
  torch::Tensor ref, y;
  {
    torch::NoGradGuard no_grad;
    ref = model->forward(x);
    cast_like_o2(*model);
    y = model->forward(x.to(torch::kBFloat16));
  }
  ASSERT_EQ(y.scalar_type(), torch::kBFloat16) << arch;
  EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << arch;
  const double rel = ((y.to(torch::kFloat) - ref).norm() / ref.norm()).item<double>();
  std::cout << arch << " bf16 against fp32: relative L2 " << rel << "\n";
  EXPECT_LT(rel, 0.05) << arch;
  model->train();
  const torch::Tensor logits = model->forward(x.to(torch::kBFloat16));
  torch::nn::functional::cross_entropy(logits.to(torch::kFloat), check_targets(input_shape[0]))
      .backward();
  for (const auto& p : model->named_parameters()) {
    if (has_prefix(p.key(), unused_prefixes)) continue;
    ASSERT_TRUE(p.value().grad().defined()) << arch << ": no gradient for " << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << arch << " " << p.key();
  }
}

// The standard deviation torchvision's kaiming_normal_(fan_out) gives a convolution weight of
// shape [out, in / groups, kh, kw]: sqrt(2 / (out * kh * kw)).
inline double kaiming_fan_out_std(const torch::Tensor& weight) {
  const double fan_out = static_cast<double>(weight.size(0) * weight.size(2) * weight.size(3));
  return std::sqrt(2.0 / fan_out);
}

}  // namespace ptinfer::models::checks
