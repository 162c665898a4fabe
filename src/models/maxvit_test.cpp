// MaxViT's own behaviour: the relative position index, partitions and their inverse, stochastic
// depth and dropout in train() only, the input-size contract, torchvision's initialisation,
// Init::kSkip, training-mode backward and O2's bf16. Parity with torchvision is
// zoo_parity_test.cpp.
#include "models/maxvit.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/blocks/stochastic_depth.h"
#include "models/registry.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

// A MaxViT small enough for quick tests: 56x56 input, stem 28x28, blocks at 14x14 and 7x7.
MaxVitOptions tiny_options(Init init = Init::kTorchvision) {
  MaxVitOptions o;
  o.input_size = {56, 56};
  o.stem_channels = 8;
  o.block_channels = {16, 32};
  o.block_layers = {1, 2};
  o.head_dim = 8;
  o.num_classes = 5;
  o.init = init;
  return o;
}

std::string message_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

// torchvision's _get_relative_position_index written with tensor ops as the Python does
// (meshgrid, broadcast difference, shift, row stride, sum), against the module's buffer.
TEST(MaxVit, RelativePositionIndexIsTorchvisions) {
  for (int64_t size : {1, 2, 3, 7}) {
    RelativePositionalMultiHeadAttention attention(8, 4, size * size, Init::kSkip);
    const torch::Tensor index = attention->named_buffers()["relative_position_index"];
    auto grids = torch::meshgrid({torch::arange(size), torch::arange(size)}, "ij");
    torch::Tensor coords = torch::flatten(torch::stack(grids), 1);  // [2, size^2]
    torch::Tensor relative = (coords.unsqueeze(2) - coords.unsqueeze(1)).permute({1, 2, 0});
    relative = relative.contiguous();
    relative.select(2, 0).add_(size - 1).mul_(2 * size - 1);
    relative.select(2, 1).add_(size - 1);
    const torch::Tensor expected = relative.sum(-1);
    EXPECT_EQ(index.scalar_type(), torch::kInt64);
    EXPECT_TRUE(torch::equal(index, expected)) << "size " << size;
    EXPECT_EQ(attention->relative_positional_bias().sizes().vec(),
              (std::vector<int64_t>{1, 2, size * size, size * size}));
  }
  EXPECT_THROW(RelativePositionalMultiHeadAttention(10, 4, 49, Init::kSkip), Error);
}

// With the branch dropped (stochastic depth 1 in train()), a window or grid attention layer is
// its partition followed by its departition: the identity.
TEST(MaxVit, PartitionLayersAreIdentitiesWithTheirBranchesDropped) {
  torch::manual_seed(0);
  for (PartitionType type : {PartitionType::kWindow, PartitionType::kGrid}) {
    PartitionAttentionLayer layer(16, 8, 7, type, GridSize{14, 14}, 4, ActivationKind::kGELU, 0.0,
                                  0.0, 1.0, Init::kTorchvision);
    const torch::Tensor x = torch::randn({2, 16, 14, 14});
    layer->train();
    EXPECT_TRUE(torch::equal(layer(x), x));
    layer->eval();
    EXPECT_FALSE(torch::allclose(layer(x), x));
  }
  // The grid's departition inverts its partition with torchvision's p = grid / partition_size.
  WindowPartition partition;
  WindowDepartition departition;
  const torch::Tensor x = torch::randn({2, 3, 14, 21});
  const torch::Tensor windows = partition(x, 7);
  EXPECT_EQ(windows.sizes().vec(), (std::vector<int64_t>{2, 6, 49, 3}));
  // Window (0, 1) holds x[..., 0:7, 7:14], row-major.
  EXPECT_TRUE(torch::equal(windows.select(1, 1).select(1, 8), x.select(2, 1).select(2, 8)));
  EXPECT_TRUE(torch::equal(departition(windows, 7, 2, 3), x));
}

TEST(MaxVit, StochasticDepthGrowsLinearlyAndDropoutIsOffInEval) {
  MaxVitOptions o = tiny_options();
  o.mlp_dropout = 0.5;
  torch::manual_seed(0);
  MaxVit model(o);
  // numpy.linspace(0, 0.2, 3) over the three layers, each layer's MBConv and attention sharing it.
  std::vector<double> p;
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (const auto* depth = module->as<StochasticDepthImpl>()) p.push_back(depth->p());
  }
  EXPECT_EQ(p, (std::vector<double>{0.0, 0.0, 0.0, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2}));
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 3, 56, 56});
  model.train();
  EXPECT_FALSE(torch::equal(model.forward(x), model.forward(x)));
  model.eval();
  EXPECT_TRUE(torch::equal(model.forward(x), model.forward(x)));
}

TEST(MaxVit, InputSizeIsTheOneItIsBuiltFor) {
  torch::manual_seed(0);
  MaxVit model(tiny_options());
  model.eval();
  torch::NoGradGuard no_grad;
  // 55 rounds to the same feature maps (28, 14, 7), as in torchvision; 57 and 64 do not.
  for (int64_t side : {55, 56}) {
    EXPECT_EQ(model.forward(torch::randn({1, 3, side, side})).sizes().vec(),
              (std::vector<int64_t>{1, 5}));
  }
  for (const auto& shape : std::vector<std::vector<int64_t>>{{1, 3, 57, 57}, {1, 3, 56, 64}}) {
    const std::string msg = message_of([&] { model.forward(torch::zeros(shape)); });
    EXPECT_NE(msg.find("built for 56x56"), std::string::npos) << msg;
    EXPECT_NE(msg.find("14x14, 7x7 into 7x7 windows"), std::string::npos) << msg;
    std::ostringstream printed;
    printed << c10::IntArrayRef(shape);
    EXPECT_NE(msg.find(printed.str()), std::string::npos) << msg;
  }

  // The registry's image_size picks the size maxvit_t is built for, checked as torchvision does.
  ModelConfig config;
  config.init = Init::kSkip;
  config.image_size = 448;
  auto big = std::dynamic_pointer_cast<MaxVit>(create_model("maxvit_t", config));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->block_grid_sizes(big->options().input_size),
            (std::vector<GridSize>{{112, 112}, {56, 56}, {28, 28}, {14, 14}}));
  config.image_size = 100;
  const std::string bad = message_of([&] { create_model("maxvit_t", config); });
  EXPECT_NE(bad.find("is not divisible by partition size 7"), std::string::npos) << bad;
  MaxVitOptions wide = tiny_options();
  wide.input_size = {56, 112};
  EXPECT_NE(message_of([&] { MaxVit{wide}; }).find("square"), std::string::npos);
}

TEST(MaxVit, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = maxvit_t(10);
  auto params = model->named_parameters();
  const std::string layer = "blocks.2.layers.3.layers.";
  for (const std::string& key : std::vector<std::string>{
           "stem.0.0.weight", layer + "MBconv.layers.conv_a.0.weight",
           "blocks.2.layers.0.layers.MBconv.proj.1.weight",
           layer + "MBconv.layers.squeeze_excitation.fc1.weight",
           layer + "window_attention.attn_layer.1.to_qkv.weight",
           layer + "grid_attention.mlp_layer.1.weight", "classifier.5.weight",
           layer + "grid_attention.attn_layer.1.relative_position_bias_table"}) {
    ASSERT_TRUE(params.contains(key)) << key;
    EXPECT_NEAR(params[key].std().item<double>(), 0.02, 0.002) << key;
  }
  for (const std::string& key :
       std::vector<std::string>{"stem.1.0.bias", layer + "MBconv.layers.conv_c.bias",
                                layer + "window_attention.mlp_layer.3.bias", "classifier.3.bias"}) {
    EXPECT_TRUE(torch::all(params[key] == 0).item<bool>()) << key;
  }
  for (const std::string& key :
       std::vector<std::string>{"stem.0.1.weight", layer + "MBconv.layers.pre_norm.weight",
                                layer + "window_attention.attn_layer.0.weight"}) {
    EXPECT_TRUE(torch::all(params[key] == 1).item<bool>()) << key;
  }
  const auto* bn = model->named_modules()["stem.0.1"]->as<torch::nn::BatchNorm2d>();
  ASSERT_NE(bn, nullptr);
  EXPECT_EQ(bn->options.eps(), 1e-3);
  EXPECT_EQ(bn->options.momentum().value(), 0.99);
}

// Init::kSkip builds the same modules (options, names, shapes, the position index), its
// convolutions and linears uninitialised and its bias tables zero; given the other's state, it
// computes the same logits bit for bit.
TEST(MaxVit, SkippedInitialisationBuildsTheSameModules) {
  torch::manual_seed(0);
  MaxVit reference(tiny_options());
  MaxVit skipped(tiny_options(Init::kSkip));
  std::ostringstream printed_reference, printed_skipped;
  printed_reference << reference;
  printed_skipped << skipped;
  EXPECT_EQ(printed_reference.str(), printed_skipped.str());
  const auto reference_params = reference.named_parameters();
  const auto params = skipped.named_parameters();
  ASSERT_EQ(reference_params.size(), params.size());
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_EQ(params[i].key(), reference_params[i].key());
    EXPECT_EQ(params[i].value().sizes(), reference_params[i].value().sizes()) << params[i].key();
    const bool zero = params[i].key().find("relative_position_bias_table") != std::string::npos;
    if (zero) {
      EXPECT_TRUE(torch::all(params[i].value() == 0).item<bool>()) << params[i].key();
    }
  }
  const auto reference_buffers = reference.named_buffers();
  const auto buffers = skipped.named_buffers();
  ASSERT_EQ(reference_buffers.size(), buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i) {
    EXPECT_TRUE(torch::equal(buffers[i].value(), reference_buffers[i].value())) << buffers[i].key();
  }
  for (size_t i = 0; i < params.size(); ++i) params[i].value().copy_(reference_params[i].value());
  reference.eval();
  skipped.eval();
  const torch::Tensor x = torch::randn({2, 3, 56, 56});
  EXPECT_TRUE(torch::equal(reference.forward(x), skipped.forward(x)));
}

TEST(MaxVit, RejectsInputsThatAreNotImageBatches) {
  checks::expect_rejects_non_image_batches("maxvit_t");
}

// finetune's use: train() with autograd through every layer (stochastic depth on); then O2 (bf16
// weights but BatchNorm's, bf16 input) in eval and for a training step.
TEST(MaxVit, TrainsWithAutogradAlsoInBfloat16) {
  torch::manual_seed(0);
  auto model = std::make_shared<MaxVit>(tiny_options());  // cast_like_o2 walks from the root
  model->train();
  const torch::Tensor x = torch::randn({4, 3, 56, 56});
  const torch::Tensor target = torch::tensor({1, 3, 0, 4}, torch::kLong);
  torch::nn::functional::cross_entropy(model->forward(x), target).backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
  model->eval();
  torch::Tensor y, y_bf16;
  {
    torch::NoGradGuard no_grad;
    y = model->forward(x);
    checks::cast_like_o2(*model);
    y_bf16 = model->forward(x.to(torch::kBFloat16));
  }
  EXPECT_EQ(y_bf16.scalar_type(), torch::kBFloat16);
  EXPECT_LT(((y_bf16.to(torch::kFloat32) - y).norm() / y.norm()).item<double>(), 0.05);
  model->zero_grad();
  model->train();
  torch::nn::functional::cross_entropy(model->forward(x.to(torch::kBFloat16)).to(torch::kFloat),
                                       target)
      .backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
}

}  // namespace
}  // namespace ptinfer::models
