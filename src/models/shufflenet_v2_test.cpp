// The ShuffleNetV2 family's own behaviour: option and input checks, Init::kSkip, training mode
// and bf16. Parity with torchvision is zoo_parity_test.cpp.
#include "models/shufflenet_v2.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <string>

#include "common/error.h"
#include "models/registry.h"

namespace ptinfer::models {
namespace {

void expect_invalid_argument(const std::function<void()>& call, const std::string& needle) {
  try {
    call();
    FAIL() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ShuffleNetV2, RejectsBadOptionsAndInputs) {
  expect_invalid_argument([] { ShuffleNetInvertedResidual(24, 48, 4, Init::kSkip); },
                          "illegal stride");
  expect_invalid_argument([] { ShuffleNetInvertedResidual(24, 48, 0, Init::kSkip); },
                          "illegal stride");
  // Stride 1 keeps the channels: inp must be oup // 2 * 2.
  expect_invalid_argument([] { ShuffleNetInvertedResidual(24, 48, 1, Init::kSkip); },
                          "inp 24 and oup 48");
  expect_invalid_argument([] { ShuffleNetInvertedResidual(50, 48, 1, Init::kSkip); },
                          "inp 50 and oup 48");
  expect_invalid_argument(
      [] {
        ShuffleNetV2({4, 0, 4}, {24, 48, 96, 192, 1024}, 10, Init::kSkip);
      },
      "stage");
  expect_invalid_argument(
      [] {
        ShuffleNetV2({4, 8, 4}, {24, 48, 96, 192, 1024}, 0, Init::kSkip);
      },
      "num_classes");

  auto model = create_model("shufflenet_v2_x0_5", 10);
  model->eval();
  torch::NoGradGuard no_grad;
  expect_invalid_argument([&] { model->forward(torch::zeros({2, 1, 32, 32})); }, "[2, 1, 32, 32]");
  expect_invalid_argument([&] { model->forward(torch::zeros({3, 32, 32})); }, "[3, 32, 32]");
}

// A stride-1 block passes its first half of channels through untouched: after the shuffle,
// they sit at the even output channels.
TEST(ShuffleNetV2, StrideOneBlockKeepsTheFirstHalfAtEvenChannels) {
  torch::manual_seed(0);
  ShuffleNetInvertedResidual block(16, 16, 1, Init::kTorchvision);
  block->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 16, 8, 8});
  const torch::Tensor y = block->forward(x);
  ASSERT_EQ(y.sizes(), x.sizes());
  EXPECT_TRUE(torch::equal(y.index({torch::indexing::Slice(), torch::indexing::Slice(0, 16, 2)}),
                           x.index({torch::indexing::Slice(), torch::indexing::Slice(0, 8)})));
  // A stride-2 block halves the resolution and has a branch1.
  ShuffleNetInvertedResidual down(16, 32, 2, Init::kTorchvision);
  EXPECT_EQ(down->forward(x).sizes(), (std::vector<int64_t>{2, 32, 4, 4}));
  EXPECT_GT(down->named_children()[0].value()->parameters().size(), 0u);
  EXPECT_EQ(block->named_children()[0].value()->parameters().size(), 0u);
}

// Init::kSkip builds the same modules with conv and fc parameters uninitialised; given the same
// state, the same logits.
TEST(ShuffleNetV2, SkippedInitialisationBuildsTheSameModules) {
  torch::manual_seed(0);
  auto reference = create_model("shufflenet_v2_x1_0", 10);
  auto skipped = create_model("shufflenet_v2_x1_0", 10, Init::kSkip);
  std::ostringstream printed_reference, printed_skipped;
  printed_reference << *reference;
  printed_skipped << *skipped;
  EXPECT_EQ(printed_reference.str(), printed_skipped.str());
  const auto reference_params = reference->named_parameters();
  const auto params = skipped->named_parameters();
  ASSERT_EQ(reference_params.size(), params.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_EQ(params[i].key(), reference_params[i].key());
    EXPECT_EQ(params[i].value().sizes(), reference_params[i].value().sizes()) << params[i].key();
    params[i].value().copy_(reference_params[i].value());
  }
  const auto reference_buffers = reference->named_buffers();
  const auto buffers = skipped->named_buffers();
  ASSERT_EQ(reference_buffers.size(), buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i)
    buffers[i].value().copy_(reference_buffers[i].value());
  reference->eval();
  skipped->eval();
  const torch::Tensor x = torch::randn({2, 3, 48, 40});
  EXPECT_TRUE(torch::equal(reference->forward(x), skipped->forward(x)));
}

TEST(ShuffleNetV2, TrainsWithAutograd) {
  torch::manual_seed(0);
  auto model = create_model("shufflenet_v2_x0_5", 5);
  model->train();
  const torch::Tensor logits = model->forward(torch::randn({2, 3, 32, 32}));
  torch::nn::functional::cross_entropy(logits, torch::tensor({0, 4})).backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
}

TEST(ShuffleNetV2, RunsInBfloat16) {
  torch::manual_seed(0);
  auto model = create_model("shufflenet_v2_x0_5", 10);
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 3, 32, 32});
  const torch::Tensor reference = model->forward(x);
  model->to(torch::kBFloat16);
  const torch::Tensor y = model->forward(x.to(torch::kBFloat16));
  EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
  EXPECT_LT(((y.to(torch::kFloat) - reference).norm() / reference.norm()).item<double>(), 0.1);
}

}  // namespace
}  // namespace ptinfer::models
