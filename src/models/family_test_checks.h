// Test-only checks of a registry architecture's behaviour that parity with torchvision cannot
// show, for the classic families' tests (alexnet_test.cpp, vgg_test.cpp, ...):
// zoo_family_checks.h's kSkip, training, dropout and bf16 checks with the input size as an argument
// (alexnet needs 63x63, inception_v3 75x75, more than those checks' 48x48) and heads that must stay
// unused (googlenet's and inception_v3's auxiliary heads get no gradient); kSkip convs and linears
// are uninitialised, not zero. Header-only; each check reports failures through gtest, naming the
// architecture.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/registry.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models::testing {

// Whether `key` starts with one of `prefixes`.
inline bool has_prefix(const std::string& key, const std::vector<std::string>& prefixes) {
  for (const auto& prefix : prefixes) {
    if (key.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

// Init::kSkip builds the same modules as kTorchvision (printed module tree, parameter and buffer
// names, shapes, requires_grad), conv and linear parameters uninitialised and every BatchNorm at
// LibTorch's defaults (weight 1, bias 0); given the kTorchvision model's state, it computes the
// same eval logits for an input of `input_shape`, bit for bit.
inline void expect_skip_builds_same_modules(const std::string& arch,
                                            const std::vector<int64_t>& input_shape) {
  torch::manual_seed(0);
  auto reference = create_model(arch, 10);
  auto skipped = create_model(arch, 10, Init::kSkip);
  std::ostringstream printed_reference, printed_skipped;
  printed_reference << *reference;
  printed_skipped << *skipped;
  EXPECT_EQ(printed_reference.str(), printed_skipped.str()) << arch;
  const auto reference_params = reference->named_parameters();
  const auto params = skipped->named_parameters();
  ASSERT_EQ(reference_params.size(), params.size()) << arch;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::string& key = params[i].key();
    ASSERT_EQ(key, reference_params[i].key()) << arch;
    EXPECT_EQ(params[i].value().sizes(), reference_params[i].value().sizes()) << arch << " " << key;
    EXPECT_TRUE(params[i].value().requires_grad()) << arch << " " << key;
  }
  for (const auto& item : skipped->named_modules("", /*include_self=*/false)) {
    if (const auto* bn = item.value()->as<torch::nn::BatchNorm2d>()) {
      EXPECT_TRUE(torch::all(bn->weight == 1).item<bool>() &&
                  torch::all(bn->bias == 0).item<bool>())
          << arch << " " << item.key();
    }
  }
  for (size_t i = 0; i < params.size(); ++i) params[i].value().copy_(reference_params[i].value());
  const auto reference_buffers = reference->named_buffers();
  const auto buffers = skipped->named_buffers();
  ASSERT_EQ(reference_buffers.size(), buffers.size()) << arch;
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

// In train() two forwards of the same input differ (dropout draws; BatchNorm's batch
// statistics are the same both times); in eval() they are equal.
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

inline void expect_dropout_only_in_training(const std::string& arch,
                                            const std::vector<int64_t>& input_shape) {
  torch::manual_seed(0);
  auto model = create_model(arch, 10);
  expect_dropout_only_in_training(
      *model, [&](torch::Tensor x) { return model->forward(x); }, input_shape, arch);
}

// In train(), forward gives [N, 10] logits and a backward of their sum gives every parameter a
// gradient but those whose name starts with one of `unused_prefixes` (heads that must not run),
// which get none.
inline void expect_trains(const std::string& arch, const std::vector<int64_t>& input_shape,
                          const std::vector<std::string>& unused_prefixes = {}) {
  torch::manual_seed(0);
  auto model = create_model(arch, 10);
  model->train();
  const torch::Tensor y = model->forward(torch::randn(input_shape));
  ASSERT_EQ(y.sizes().vec(), (std::vector<int64_t>{input_shape[0], 10})) << arch;
  y.sum().backward();
  int unused = 0;
  for (const auto& p : model->named_parameters()) {
    const bool expect_unused = has_prefix(p.key(), unused_prefixes);
    unused += expect_unused;
    EXPECT_EQ(p.value().grad().defined(), !expect_unused) << arch << " " << p.key();
  }
  if (!unused_prefixes.empty()) {
    EXPECT_GT(unused, 0) << arch;  // the prefixes name parameters
  }
}

// Under O2 (checks::cast_like_o2: bf16 weights but BatchNorm's, a bf16 input) the eval forward
// returns bf16 logits within `tolerance` (relative L2) of fp32's, and a training step's backward
// gives finite gradients to every parameter but those under `unused_prefixes`.
inline void expect_runs_in_bf16(const std::string& arch, const std::vector<int64_t>& input_shape,
                                const std::vector<std::string>& unused_prefixes = {},
                                double tolerance = 0.05) {
  torch::manual_seed(0);
  auto model = create_model(arch, 10);
  model->eval();
  const torch::Tensor x = torch::randn(input_shape);
  torch::Tensor reference, y;
  {
    torch::NoGradGuard no_grad;
    reference = model->forward(x);
    checks::cast_like_o2(*model);
    y = model->forward(x.to(torch::kBFloat16));
  }
  ASSERT_EQ(y.scalar_type(), torch::kBFloat16) << arch;
  const double rel_l2 =
      ((y.to(torch::kFloat32) - reference).norm() / reference.norm()).item<double>();
  std::cout << arch << " bf16 against fp32: relative L2 " << rel_l2 << "\n";
  EXPECT_LE(rel_l2, tolerance) << arch;
  model->train();
  model->forward(x.to(torch::kBFloat16)).to(torch::kFloat32).sum().backward();
  for (const auto& p : model->named_parameters()) {
    if (has_prefix(p.key(), unused_prefixes)) continue;
    ASSERT_TRUE(p.value().grad().defined()) << arch << ": no gradient for " << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << arch << " " << p.key();
  }
}

}  // namespace ptinfer::models::testing
