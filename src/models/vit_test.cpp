// The ViT family's own behaviour: the fixed input size and its error, ModelConfig::image_size,
// torchvision's initialisation, Init::kSkip, dropout, training and bf16. Parity with torchvision
// is zoo_parity_test.cpp.
#include "models/vit.h"

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

// A ViT small enough to train in a test: 32x32 images of 8x8 patches (17 tokens).
VitOptions tiny(Init init = Init::kTorchvision) {
  VitOptions o;
  o.image_size = 32;
  o.patch_size = 8;
  o.num_layers = 2;
  o.num_heads = 4;
  o.hidden_dim = 64;
  o.mlp_dim = 128;
  o.num_classes = 5;
  o.init = init;
  return o;
}

void expect_invalid(const std::function<void()>& call, const std::vector<std::string>& needles) {
  try {
    call();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    for (const auto& needle : needles) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

TEST(VisionTransformer, RejectsOtherInputSizesNamingExpectedAndGiven) {
  VisionTransformer model(tiny());
  model.eval();
  torch::NoGradGuard no_grad;
  EXPECT_EQ(model.forward(torch::randn({2, 3, 32, 32})).sizes().vec(),
            (std::vector<int64_t>{2, 5}));
  expect_invalid(
      [&] {
        model.forward(torch::zeros({1, 3, 32, 40}));
      },
      {"[N, 3, 32, 32]", "[1, 3, 32, 40]"});
  expect_invalid([&] { model.forward(torch::zeros({1, 3, 24, 32})); }, {"[1, 3, 24, 32]"});
  expect_invalid([&] { model.forward(torch::zeros({1, 1, 32, 32})); }, {"[1, 1, 32, 32]"});
  expect_invalid([&] { model.forward(torch::zeros({3, 32, 32})); }, {"[3, 32, 32]"});
}

// zoo_family_checks.h's input check, for every arch (the others of those checks feed 48x48
// images, which a ViT refuses: the tests below run them on a 32x32 ViT).
TEST(VisionTransformer, RejectsNonImageBatches) {
  for (const auto& arch : family_archs("vit")) checks::expect_rejects_non_image_batches(arch);
}

TEST(VisionTransformer, RejectsBadOptions) {
  VitOptions indivisible = tiny();
  indivisible.image_size = 36;
  expect_invalid([&] { VisionTransformer{indivisible}; }, {"36", "patch_size 8"});
  VitOptions heads = tiny();
  heads.num_heads = 3;
  expect_invalid([&] { VisionTransformer{heads}; }, {"num_heads 3"});
  VitOptions classes = tiny();
  classes.num_classes = 0;
  expect_invalid([&] { VisionTransformer{classes}; }, {"num_classes"});
}

// ModelConfig::image_size sizes the positional embedding ((size / patch)^2 + 1 tokens); 0 is
// 224, also for the pretrained vit_b_32 (its DEFAULT weights are for 224).
TEST(VisionTransformer, ImageSizeSizesThePositionalEmbedding) {
  ModelConfig config;
  config.num_classes = 3;
  for (int64_t size : {0, 64, 96}) {
    for (bool pretrained : {false, true}) {
      config.image_size = size;
      config.pretrained = pretrained;
      // Shapes only (kSkip), but a model that runs for 64.
      config.init = size == 64 ? Init::kTorchvision : Init::kSkip;
      auto model = create_model("vit_b_32", config);
      const int64_t side = (size == 0 ? 224 : size) / 32;
      EXPECT_EQ(model->named_parameters()["encoder.pos_embedding"].sizes().vec(),
                (std::vector<int64_t>{1, side * side + 1, 768}))
          << size;
      if (size == 64) {
        torch::NoGradGuard no_grad;
        model->eval();
        EXPECT_EQ(model->forward(torch::zeros({1, 3, 64, 64})).sizes().vec(),
                  (std::vector<int64_t>{1, 3}));
        expect_invalid(
            [&] {
              model->forward(torch::zeros({1, 3, 224, 224}));
            },
            {"[N, 3, 64, 64]", "[1, 3, 224, 224]"});
      }
    }
  }
}

TEST(VisionTransformer, InitialisationFollowsTorchvision) {
  torch::manual_seed(0);
  VitOptions options = tiny();
  options.hidden_dim = 256;
  options.mlp_dim = 1024;
  VisionTransformer model(options);
  auto params = model.named_parameters();
  EXPECT_TRUE(torch::all(params["class_token"] == 0).item<bool>());
  EXPECT_TRUE(torch::all(params["heads.head.weight"] == 0).item<bool>());
  EXPECT_TRUE(torch::all(params["heads.head.bias"] == 0).item<bool>());
  EXPECT_TRUE(torch::all(params["conv_proj.bias"] == 0).item<bool>());
  // trunc_normal_(std sqrt(1 / fan_in)), fan_in = 3 * 8 * 8.
  const double stem_std = std::sqrt(1.0 / (3.0 * 64.0));
  EXPECT_NEAR(params["conv_proj.weight"].std().item<double>(), stem_std, 0.03 * stem_std);
  EXPECT_NEAR(params["encoder.pos_embedding"].std().item<double>(), 0.02, 0.002);
  const std::string block = "encoder.layers.encoder_layer_1.";
  const torch::Tensor in_proj = params[block + "self_attention.in_proj_weight"];
  const double xavier = std::sqrt(6.0 / (256.0 + 768.0));
  EXPECT_LE(in_proj.abs().max().item<double>(), xavier);
  EXPECT_NEAR(in_proj.std().item<double>(), xavier / std::sqrt(3.0), 0.03 * xavier);
  EXPECT_TRUE(torch::all(params[block + "self_attention.in_proj_bias"] == 0).item<bool>());
  EXPECT_TRUE(torch::all(params[block + "self_attention.out_proj.bias"] == 0).item<bool>());
  const double mlp_xavier = std::sqrt(6.0 / (256.0 + 1024.0));
  EXPECT_LE(params[block + "mlp.3.weight"].abs().max().item<double>(), mlp_xavier);
  EXPECT_NEAR(params[block + "mlp.0.bias"].std().item<double>(), 1e-6, 2e-7);
  EXPECT_TRUE(torch::all(params[block + "ln_2.weight"] == 1).item<bool>());
}

// Init::kSkip builds the same modules (parameters uninitialised); given the initialised model's
// state it computes the same logits bit for bit.
TEST(VisionTransformer, SkippedInitialisationBuildsTheSameModules) {
  torch::manual_seed(0);
  VisionTransformer reference(tiny());
  VisionTransformer skipped(tiny(Init::kSkip));
  std::ostringstream a, b;
  a << reference;
  b << skipped;
  EXPECT_EQ(a.str(), b.str());
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
  torch::nn::init::normal_(reference.named_parameters()["heads.head.weight"]);
  skipped.named_parameters()["heads.head.weight"].copy_(
      reference.named_parameters()["heads.head.weight"]);
  reference.eval();
  skipped.eval();
  const torch::Tensor x = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(torch::equal(reference.forward(x), skipped.forward(x)));
}

// Dropout (off in torchvision's builders) acts in training only; training mode backpropagates
// to every parameter.
TEST(VisionTransformer, TrainsAndDropsOutInTrainingOnly) {
  torch::manual_seed(0);
  VitOptions options = tiny();
  options.dropout = 0.2;
  VisionTransformer model(options);
  {
    torch::NoGradGuard no_grad;  // a non-zero head, so that gradients reach the encoder
    torch::nn::init::normal_(model.named_parameters()["heads.head.weight"], 0.0, 0.1);
  }
  const torch::Tensor x = torch::randn({2, 3, 32, 32});
  model.eval();
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(model.forward(x), model.forward(x)));
  }
  model.train();
  const torch::Tensor y = model.forward(x);
  EXPECT_FALSE(torch::equal(y, model.forward(x)));
  torch::nn::functional::cross_entropy(y, torch::tensor({1, 3})).backward();
  for (const auto& p : model.named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

// Under O2's cast (bf16 weights and input) eval logits are bf16, finite and near fp32's, and a
// training step's backward gives finite gradients: every tensor the forward makes follows the
// input's dtype (zoo_family_checks.h's check, on a ViT that takes its 32x32 inputs).
TEST(VisionTransformer, RunsInBfloat16) {
  torch::manual_seed(0);
  auto model = std::make_shared<VisionTransformer>(tiny());  // cast_like_o2 needs a shared_ptr
  {
    torch::NoGradGuard no_grad;
    torch::nn::init::normal_(model->named_parameters()["heads.head.weight"], 0.0, 0.5);
  }
  model->eval();
  const torch::Tensor x = torch::randn({2, 3, 32, 32});
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
  const torch::Tensor logits = model->forward(x.to(torch::kBFloat16));
  torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), torch::tensor({1, 3}))
      .backward();
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
  }
}

// A checkpoint's own shapes give the size it was trained at (the registry row's image_size_of),
// so that a 384- or 518-pixel ViT loads into a model built for it.
TEST(VisionTransformer, CheckpointShapesFixTheImageSize) {
  for (const auto& [arch, size] : std::vector<std::pair<std::string, int64_t>>{
           {"vit_b_16", 224}, {"vit_b_16", 384}, {"vit_b_32", 448}, {"vit_h_14", 518}}) {
    ModelConfig config;
    config.num_classes = 3;
    config.init = Init::kSkip;
    config.image_size = size;
    auto model = create_model(arch, config);
    std::vector<std::pair<std::string, torch::Tensor>> sd;
    for (const auto& p : model->named_parameters()) sd.emplace_back(p.key(), p.value());
    EXPECT_EQ(arch_spec(arch).image_size_of(sd), size) << arch;
  }
  EXPECT_EQ(arch_spec("vit_b_16").image_size_of({}), 0);
  EXPECT_FALSE(arch_spec("resnet18").image_size_of);  // any input size
}

}  // namespace
}  // namespace ptinfer::models
