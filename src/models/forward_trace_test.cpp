#include "models/forward_trace.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"
#include "models/registry.h"

namespace ptinfer::models {
namespace {

// resnet18's record: its 20 convolutions and 20 BatchNorms, one linear head; multiply-adds by
// hand for a 32x32 input: conv1 16x16 outputs x 64 x 3*7*7, and so on (the parity test checks
// every architecture against torchvision's own count).
TEST(ForwardTrace, CountsTheNodesAndMultiplyAddsOfTheForward) {
  auto model = create_model("resnet18", 10, Init::kSkip);
  model->eval();
  const ForwardTrace trace = trace_forward(*model, torch::zeros({1, 3, 32, 32}));
  EXPECT_EQ(trace.node_kinds.at("aten::_convolution"), 20);
  EXPECT_EQ(trace.node_kinds.at("aten::batch_norm"), 20);
  EXPECT_EQ(trace.node_kinds.count("prim::Constant"), 0u);
  // conv1: 16*16*64 outputs x 3*7*7; the head: 10 x 512.
  const int64_t conv1 = 16 * 16 * 64 * 3 * 7 * 7, fc = 10 * 512;
  EXPECT_GT(trace.multiply_adds, conv1 + fc);
  // Twice the batch, twice the work.
  const ForwardTrace two = trace_forward(*model, torch::zeros({2, 3, 32, 32}));
  EXPECT_EQ(two.multiply_adds, 2 * trace.multiply_adds);
}

TEST(ForwardTrace, LeavesRequiresGradAsItWas) {
  auto model = create_model("squeezenet1_1", 10, Init::kSkip);
  model->eval();
  model->parameters()[0].set_requires_grad(false);
  trace_forward(*model, torch::zeros({1, 3, 32, 32}));
  const auto params = model->parameters();
  EXPECT_FALSE(params[0].requires_grad());
  for (size_t i = 1; i < params.size(); ++i) EXPECT_TRUE(params[i].requires_grad()) << i;
}

TEST(ForwardTrace, ErrorsOfTheForwardPropagate) {
  auto model = create_model("resnet18", 10, Init::kSkip);
  model->eval();
  try {
    trace_forward(*model, torch::zeros({1, 4, 32, 32}));
    FAIL() << "a 4-channel input was traced";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
  }
  // The tracer is left usable.
  EXPECT_GT(trace_forward(*model, torch::zeros({1, 3, 32, 32})).multiply_adds, 0);
}

}  // namespace
}  // namespace ptinfer::models
