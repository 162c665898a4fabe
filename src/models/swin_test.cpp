// The Swin family's own behaviour: input checks, the stochastic depth schedule and its train /
// eval behaviour, torchvision's initialisation, Init::kSkip, training and bf16 (with the checks
// of zoo_family_checks.h). Parity with
// torchvision (224/256 and odd input sizes) is zoo_parity_test.cpp.
#include "models/swin.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/registry.h"
#include "models/zoo_family_checks.h"

namespace ptinfer::models {
namespace {

constexpr const char* kOnePerVersion[] = {"swin_t", "swin_v2_t"};

// A Swin small enough to train in a test: 2 stages, 32x32 inputs of 4x4 patches, window 4.
SwinOptions tiny(SwinVersion version, Init init = Init::kTorchvision) {
  SwinOptions o;
  o.embed_dim = 16;
  o.depths = {2, 2};
  o.num_heads = {2, 4};
  o.window_size = {4, 4};
  o.stochastic_depth_prob = 0.5;
  o.num_classes = 5;
  o.version = version;
  o.init = init;
  return o;
}

void expect_invalid(const std::function<void()>& call, const std::string& needle) {
  try {
    call();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(SwinTransformer, RejectsBadInputsAndOptions) {
  SwinTransformer model(tiny(SwinVersion::kV1));
  model.eval();
  torch::NoGradGuard no_grad;
  expect_invalid([&] { model.forward(torch::zeros({1, 1, 32, 32})); }, "[1, 1, 32, 32]");
  expect_invalid([&] { model.forward(torch::zeros({1, 3, 3, 32})); }, "[1, 3, 3, 32]");
  expect_invalid([&] { model.forward(torch::zeros({3, 32, 32})); }, "[3, 32, 32]");
  // Any size from the patch size up runs (padding), e.g. a single patch.
  EXPECT_EQ(model.forward(torch::zeros({1, 3, 4, 4})).sizes().vec(), (std::vector<int64_t>{1, 5}));
  SwinOptions mismatched = tiny(SwinVersion::kV1);
  mismatched.num_heads = {2};
  expect_invalid([&] { SwinTransformer{mismatched}; }, "num_heads");
  SwinOptions one_block = tiny(SwinVersion::kV1);
  one_block.depths = {1};
  one_block.num_heads = {2};
  expect_invalid([&] { SwinTransformer{one_block}; }, "2 blocks");
  SwinOptions heads = tiny(SwinVersion::kV1);
  heads.num_heads = {3, 4};
  expect_invalid([&] { SwinTransformer{heads}; }, "num_heads 3");
}

// Block i of n gets stochastic_depth_prob * i / (n - 1); shifts alternate 0, window / 2.
TEST(SwinTransformer, StochasticDepthGrowsLinearlyOverTheBlocks) {
  for (const char* arch : {"swin_t", "swin_v2_b"}) {
    auto model = create_model(arch, 10, Init::kSkip);
    const double p_last = std::string(arch) == "swin_t" ? 0.2 : 0.5;  // torchvision's builders
    std::vector<double> ps;
    std::vector<int64_t> shifts;
    for (const auto& module : model->modules(/*include_self=*/false)) {
      if (const auto* sd = module->as<StochasticDepthImpl>()) ps.push_back(sd->p());
      if (const auto* attn = module->as<ShiftedWindowAttentionImpl>()) {
        shifts.push_back(attn->options().shift_size[0]);
      }
    }
    ASSERT_EQ(ps.size(), std::string(arch) == "swin_t" ? 12u : 24u) << arch;
    for (size_t i = 0; i < ps.size(); ++i) {
      EXPECT_DOUBLE_EQ(ps[i], p_last * static_cast<double>(i) / (ps.size() - 1.0)) << arch << i;
    }
    const int64_t half_window = std::string(arch) == "swin_t" ? 3 : 4;
    ASSERT_EQ(shifts.size(), ps.size());
    // Stages of 2, 2, 6|18, 2 blocks: every stage's odd blocks shift.
    std::vector<int64_t> want;
    for (int64_t depth : {2, 2, std::string(arch) == "swin_t" ? 6 : 18, 2}) {
      for (int64_t j = 0; j < depth; ++j) want.push_back(j % 2 ? half_window : 0);
    }
    EXPECT_EQ(shifts, want) << arch;
  }
}

// Stochastic depth drops residual branches per sample in training only; training mode
// backpropagates to every parameter (v2's cpb_mlp and logit_scale included).
TEST(SwinTransformer, TrainsWithStochasticDepthInTrainingOnly) {
  for (SwinVersion version : {SwinVersion::kV1, SwinVersion::kV2}) {
    torch::manual_seed(0);
    SwinTransformer model(tiny(version));
    const torch::Tensor x = torch::randn({16, 3, 32, 32});  // so that no branch drops for all
    model.eval();
    {
      torch::NoGradGuard no_grad;
      EXPECT_TRUE(torch::equal(model.forward(x), model.forward(x)));
    }
    model.train();
    const torch::Tensor y = model.forward(x);
    EXPECT_FALSE(torch::equal(y, model.forward(x)));
    torch::nn::functional::cross_entropy(y, torch::arange(16) % 5).backward();
    for (const auto& p : model.named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
    }
  }
}

TEST(SwinTransformer, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  auto model = create_model("swin_v2_t", 10);
  auto params = model->named_parameters();
  for (const char* key :
       {"features.3.1.attn.qkv.weight", "features.5.4.mlp.0.weight", "features.4.reduction.weight",
        "features.1.0.attn.cpb_mlp.0.weight", "head.weight"}) {
    const torch::Tensor w = params[key];
    EXPECT_NEAR(w.std().item<double>(), 0.02, 0.002) << key;  // trunc_normal_(std 0.02)
    EXPECT_NEAR(w.mean().item<double>(), 0.0, 0.002) << key;
  }
  for (const char* key : {"features.3.1.attn.qkv.bias", "features.5.4.mlp.3.bias", "head.bias",
                          "features.1.0.attn.cpb_mlp.0.bias"}) {
    EXPECT_TRUE(torch::all(params[key] == 0).item<bool>()) << key;
  }
  EXPECT_TRUE(torch::allclose(params["features.5.0.attn.logit_scale"],
                              torch::full({12, 1, 1}, std::log(10.0))));
  auto v1 = create_model("swin_t", 10);
  const torch::Tensor table =
      v1->named_parameters()["features.7.1.attn.relative_position_bias_table"];
  EXPECT_EQ(table.sizes().vec(), (std::vector<int64_t>{13 * 13, 24}));
  EXPECT_NEAR(table.std().item<double>(), 0.02, 0.002);
  // The patch embedding keeps nn.Conv2d's default: uniform within 1/sqrt(fan_in).
  EXPECT_LE(v1->named_parameters()["features.0.0.weight"].abs().max().item<double>(),
            1.0 / std::sqrt(48.0));
}

// Init::kSkip builds the same modules and the same buffers (parameters uninitialised); given
// the initialised model's parameters it computes the same logits.
TEST(SwinTransformer, SkippedInitialisationBuildsTheSameModules) {
  for (SwinVersion version : {SwinVersion::kV1, SwinVersion::kV2}) {
    torch::manual_seed(0);
    SwinTransformer reference(tiny(version));
    SwinTransformer skipped(tiny(version, Init::kSkip));
    std::ostringstream a, b;
    a << reference;
    b << skipped;
    EXPECT_EQ(a.str(), b.str());
    const auto want_buffers = reference.named_buffers();
    const auto buffers = skipped.named_buffers();
    ASSERT_EQ(want_buffers.size(), buffers.size());
    for (size_t i = 0; i < buffers.size(); ++i) {
      EXPECT_EQ(buffers[i].key(), want_buffers[i].key());
      EXPECT_TRUE(torch::equal(buffers[i].value(), want_buffers[i].value())) << buffers[i].key();
    }
    const auto want = reference.named_parameters();
    auto got = skipped.named_parameters();
    ASSERT_EQ(want.size(), got.size());
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].key(), want[i].key());
      EXPECT_EQ(got[i].value().sizes(), want[i].value().sizes()) << got[i].key();
      EXPECT_TRUE(got[i].value().requires_grad()) << got[i].key();
      got[i].value().copy_(want[i].value());
    }
    reference.eval();
    skipped.eval();
    const torch::Tensor x = torch::randn({2, 3, 36, 28});
    EXPECT_TRUE(torch::equal(reference.forward(x), skipped.forward(x)));
  }
}

// The checks every family runs (zoo_family_checks.h). Input errors for every arch; training and
// stochastic depth for one arch of each version (the others differ only in their table's
// numbers); O2's bf16 for swin_t, and for v2 on the small model below: swin_v2_t's cosine
// attention and post-norms lose more in bf16 than the check's 5% allows in PyTorch itself
// (torchvision's swin_v2_t, 4x3x48x48, bf16 against fp32: 3.5% to 5.8% over seeds 0-2).
TEST(SwinTransformer, RejectsNonImageBatches) {
  for (const auto& arch : family_archs("swin")) checks::expect_rejects_non_image_batches(arch);
}

TEST(SwinTransformer, Trains) {
  for (const char* arch : kOnePerVersion) checks::expect_trains(arch);
}

TEST(SwinTransformer, StochasticDepthOnlyInTraining) {
  for (const char* arch : kOnePerVersion) checks::expect_dropout_only_in_training(arch);
}

TEST(SwinTransformer, RunsInBfloat16) { checks::expect_runs_in_bfloat16("swin_t"); }

// expect_runs_in_bfloat16's checks on a small v2 model: the attention mask, v2's coordinate
// table and every other tensor the forward makes follow the input's dtype (the relative position
// index stays int64), eval logits stay near fp32's, and a training step's backward is finite.
TEST(SwinTransformer, V2RunsInBfloat16) {
  torch::manual_seed(0);
  auto model = std::make_shared<SwinTransformer>(tiny(SwinVersion::kV2));
  model->eval();
  const torch::Tensor x = torch::randn({2, 3, 40, 40});  // 10x10 patches: padded and shifted
  torch::Tensor fp32, bf16;
  {
    torch::NoGradGuard no_grad;
    fp32 = model->forward(x);
    checks::cast_like_o2(*model);
    bf16 = model->forward(x.to(torch::kBFloat16));
  }
  ASSERT_EQ(bf16.scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::isfinite(bf16).all().item<bool>());
  EXPECT_LE(((bf16.to(torch::kFloat32) - fp32).norm() / fp32.norm()).item<double>(), 0.05);
  model->train();
  torch::nn::functional::cross_entropy(model->forward(x.to(torch::kBFloat16)).to(torch::kFloat32),
                                       torch::tensor({1, 3}))
      .backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
}

}  // namespace
}  // namespace ptinfer::models
