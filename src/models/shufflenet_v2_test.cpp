// The ShuffleNetV2 family's own behaviour: option and input checks, Init::kSkip, training mode
// and bf16. Parity with torchvision is zoo_parity_test.cpp.
#include "models/shufflenet_v2.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <string>

#include "common/error.h"
#include "models/registry.h"
#include "models/zoo_family_checks.h"

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

// Init::kSkip builds the same modules, uninitialised (zoo_family_checks.h), on a non-square input.
TEST(ShuffleNetV2, SkippedInitialisationBuildsTheSameModules) {
  checks::expect_skip_builds_the_same_modules("shufflenet_v2_x1_0", {2, 3, 48, 40});
}

TEST(ShuffleNetV2, TrainsWithAutograd) {
  checks::expect_trains("shufflenet_v2_x0_5", {2, 3, 32, 32});
}

TEST(ShuffleNetV2, RunsInBfloat16) {
  checks::expect_runs_in_bfloat16("shufflenet_v2_x0_5", {2, 3, 32, 32});
}

}  // namespace
}  // namespace ptinfer::models
