// Parity of every registry architecture with torchvision 0.14: the same state-dict keys, shapes,
// dtypes and order, the head where the registry says, and the same eval-mode logits for the
// same weights and input (relative L2 <= 1e-5, same top-1). The reference comes from
// make_model_fixtures.py (buffers as raw little-endian tensors, parameters generated on both
// sides, a JSON index, no torch.save), run by ctest
// as one fixture per family; CMake runs these tests as one ctest entry per family (zoo.txt).
// Each architecture then runs under --amp O2, with its top-1 agreement with fp32 printed.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "amp/model_policy.h"
#include "models/forward_trace.h"
#include "models/model_test_fixtures.h"
#include "models/registry.h"

namespace ptinfer::models {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::read_json;
using testing::read_raw;

fs::path fixture_dir() { return testing::model_fixture_dir("models"); }

struct Slot {
  std::string name;
  torch::Tensor tensor;
};

// The module's parameters and buffers in PyTorch's state_dict() order: each module's own
// parameters, then its own buffers, then its children depth first in registration order.
void state_dict_slots(const torch::nn::Module& module, const std::string& prefix,
                      std::vector<Slot>& out) {
  for (const auto& p : module.named_parameters(/*recurse=*/false)) {
    out.push_back({prefix + p.key(), p.value()});
  }
  for (const auto& b : module.named_buffers(/*recurse=*/false)) {
    out.push_back({prefix + b.key(), b.value()});
  }
  for (const auto& child : module.named_children()) {
    state_dict_slots(*child.value(), prefix + child.key() + ".", out);
  }
}

std::string shape_str(at::IntArrayRef shape) {
  std::ostringstream s;
  s << shape;
  return s.str();
}

class Parity : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { index_ = read_json(fixture_dir() / (GetParam() + ".json")); }
  int64_t num_classes() const { return index_.at("num_classes").get<int64_t>(); }
  json index_;
};

// Keys, shapes, dtypes and order as torchvision's state_dict(), the head's first dimension the
// number of classes; then, loaded with torchvision's weights, the logits of every fixture input.
TEST_P(Parity, StateDictAndLogitsMatchTorchvision) {
  const std::string arch = GetParam();
  const auto model = create_model(arch, num_classes(), Init::kSkip);
  std::vector<Slot> slots;
  state_dict_slots(*model, "", slots);
  // Sanity of the traversal itself: it sees every parameter and buffer exactly once.
  ASSERT_EQ(slots.size(), model->named_parameters().size() + model->named_buffers().size());

  const fs::path dir = fixture_dir();
  const auto& entries = index_.at("state_dict");
  ASSERT_EQ(fs::file_size(dir / index_.at("buffers").get<std::string>()),
            index_.at("buffers_nbytes").get<uint64_t>());
  ASSERT_EQ(slots.size(), entries.size()) << arch << ": state-dict sizes differ";
  bool head_found = false;
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < slots.size(); ++i) {
      const auto& e = entries[i];
      const std::string name = e.at("name").get<std::string>();
      ASSERT_EQ(slots[i].name, name) << arch << ": key #" << i;
      const auto shape = e.at("shape").get<std::vector<int64_t>>();
      ASSERT_EQ(slots[i].tensor.sizes().vec(), shape) << arch << ": " << name;
      const torch::Tensor value = testing::fixture_state_value(dir, index_, i);
      ASSERT_EQ(slots[i].tensor.scalar_type(), value.scalar_type()) << arch << ": " << name;
      slots[i].tensor.copy_(value);
      if (name == head_weight_key(arch)) {
        head_found = true;
        EXPECT_EQ(shape.at(0), num_classes()) << arch << ": " << name;
      }
    }
  }
  EXPECT_TRUE(head_found) << arch << ": no head weight " << head_weight_key(arch);

  model->eval();
  for (const auto& in : index_.at("inputs")) {
    const auto shape = in.at("shape").get<std::vector<int64_t>>();
    const auto logits_shape = in.at("logits_shape").get<std::vector<int64_t>>();
    const torch::Tensor x =
        read_raw(dir / in.at("input").get<std::string>(), 0, shape, torch::kFloat32);
    const torch::Tensor ref =
        read_raw(dir / in.at("logits").get<std::string>(), 0, logits_shape, torch::kFloat32);
    torch::Tensor y;
    {
      torch::NoGradGuard no_grad;
      y = model->forward(x);
    }
    ASSERT_EQ(y.sizes().vec(), logits_shape) << arch << " input " << shape_str(shape);
    const double rel_l2 = ((y - ref).norm() / ref.norm()).item<double>();
    // Printed so that the margin to the tolerance shows in the ctest log.
    std::cout << arch << " " << shape_str(shape) << ": relative L2 " << rel_l2 << ", |ref| "
              << ref.norm().item<double>() << "\n";
    EXPECT_LE(rel_l2, 1e-5) << arch << " input " << shape_str(shape);
    EXPECT_TRUE(torch::equal(y.argmax(1), ref.argmax(1))) << arch << " input " << shape_str(shape);
    // The traced forward's multiply-adds (ptinfer models --gflops) as torchvision's ops count
    // them (make_model_fixtures.py's MultiplyAdds), exactly.
    if (in.contains("multiply_adds")) {
      const ForwardTrace trace = trace_forward(*model, x);
      EXPECT_EQ(trace.multiply_adds, in.at("multiply_adds").get<int64_t>())
          << arch << " input " << shape_str(shape);
    }
  }

  // --amp O2 (bf16 weights but BatchNorm's, bf16 input) runs the same model: finite logits, and
  // the top-1 agreement with torchvision's fp32 logits reported (bf16 may flip close calls).
  amp::apply_to_model(*model, amp::Policy{amp::OptLevel::kO2, amp::LowDtype::kBFloat16});
  int64_t agree = 0, rows = 0;
  for (const auto& in : index_.at("inputs")) {
    const auto shape = in.at("shape").get<std::vector<int64_t>>();
    const torch::Tensor x =
        read_raw(dir / in.at("input").get<std::string>(), 0, shape, torch::kFloat32);
    const torch::Tensor ref = read_raw(dir / in.at("logits").get<std::string>(), 0,
                                       in.at("logits_shape").get<std::vector<int64_t>>(),
                                       torch::kFloat32);
    torch::NoGradGuard no_grad;
    const torch::Tensor y = model->forward(x.to(torch::kBFloat16)).to(torch::kFloat32);
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << arch << " O2 " << shape_str(shape);
    agree += (y.argmax(1) == ref.argmax(1)).sum().item<int64_t>();
    rows += y.size(0);
  }
  std::cout << arch << " O2 bf16: top-1 agrees with fp32 on " << agree << " of " << rows
            << " inputs\n";
}

INSTANTIATE_TEST_SUITE_P(Zoo, Parity, ::testing::ValuesIn(model_names()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace ptinfer::models
