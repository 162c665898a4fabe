#include "train/train_checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "amp/model_policy.h"
#include "checkpoint/checkpoint.h"
#include "common/scoped_temp_dir.h"
#include "models/registry.h"
#include "train/param_groups.h"

namespace ptinfer::train {
namespace {

TEST(TrainCheckpointTest, StateDictOrderAndDtypes) {
  auto model = models::create_model("resnet18", 4);
  amp::Policy o3;
  o3.level = amp::OptLevel::kO3;
  amp::apply_to_model(*model, o3);  // every floating tensor bf16, num_batches_tracked int64
  torch::Tensor fc = model->named_parameters()["fc.weight"];
  torch::Tensor master = torch::full(fc.sizes(), 0.123f);
  checkpoint::StateDict sd = model_state_dict(*model, {{fc, master}});
  ASSERT_FALSE(sd.empty());
  EXPECT_EQ(sd[0].first, "conv1.weight");
  EXPECT_EQ(sd[1].first, "bn1.weight");
  EXPECT_EQ(sd[3].first, "bn1.running_mean");
  EXPECT_EQ(sd[5].first, "bn1.num_batches_tracked");
  EXPECT_EQ(sd.back().first, "fc.bias");
  for (const auto& [name, t] : sd) {
    if (name.find("num_batches_tracked") != std::string::npos) {
      EXPECT_EQ(t.scalar_type(), torch::kLong) << name;
    } else {
      EXPECT_EQ(t.scalar_type(), torch::kFloat) << name;
    }
    if (name == "fc.weight") {
      EXPECT_TRUE(torch::equal(t, master));
    }
  }
  // Same keys, same order as a fresh model loads strictly.
  auto fresh = models::create_model("resnet18", 4);
  checkpoint::load_state_dict_strict(*fresh, sd);
}

TEST(TrainCheckpointTest, SgdStateAndGuideDictReadBack) {
  auto model = models::create_model("resnet18", 3);
  GroupingOptions o;
  o.trainable_prefix = "fc.";
  ParameterGroups g = group_parameters(*model, o);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{g.no_decay[0].param},
                      std::make_unique<torch::optim::SGDOptions>(
                          torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(0)));
  groups.emplace_back(std::vector<torch::Tensor>{g.decay[0].param},
                      std::make_unique<torch::optim::SGDOptions>(
                          torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4)));
  torch::optim::SGD sgd(groups, torch::optim::SGDOptions(0.1));
  model->eval();
  torch::nn::functional::cross_entropy(model->forward(torch::randn({2, 3, 32, 32})),
                                       torch::tensor({0, 2}, torch::kLong))
      .backward();
  sgd.step();

  checkpoint::PyValue state = sgd_state_dict(sgd);
  ASSERT_EQ(state.items.size(), 4u);  // 'state', {...}, 'param_groups', [...]
  const checkpoint::PyValue& per_param = state.items[1];
  ASSERT_EQ(per_param.items.size(), 4u);  // 0 -> {...}, 1 -> {...}
  EXPECT_EQ(per_param.items[0].i, 0);
  EXPECT_EQ(per_param.items[2].i, 1);
  const checkpoint::PyValue& buf1 = per_param.items[3].items[1];
  ASSERT_EQ(buf1.kind, checkpoint::PyValue::Kind::kTensor);
  EXPECT_EQ(buf1.tensor.sizes(), g.decay[0].param.sizes());
  const checkpoint::PyValue& param_groups = state.items[3];
  ASSERT_EQ(param_groups.items.size(), 2u);

  GuideCheckpoint c;
  c.epoch = 4;
  c.arch = "resnet18";
  c.state_dict = model_state_dict(*model);
  c.module_versions = module_versions(*model, "resnet18");
  c.best_acc1 = 55.5;
  c.optimizer = state;
  ScopedTempDir scratch("ptinfer_train_ckpt_");
  std::string path = scratch.file("checkpoint.pth.tar");
  checkpoint::save_torch_file(path, guide_checkpoint(c));
  checkpoint::Checkpoint back = checkpoint::load_checkpoint(path);
  EXPECT_EQ(back.epoch, 4);
  EXPECT_EQ(back.arch, "resnet18");
  EXPECT_DOUBLE_EQ(*back.best_acc1, 55.5);
  EXPECT_EQ(back.top_level_keys,
            (std::vector<std::string>{"epoch", "arch", "state_dict", "best_acc1", "optimizer"}));
  ASSERT_EQ(back.state_dict.size(), c.state_dict.size());
  for (size_t k = 0; k < c.state_dict.size(); ++k) {
    EXPECT_EQ(back.state_dict[k].first, c.state_dict[k].first);
    EXPECT_TRUE(torch::equal(back.state_dict[k].second, c.state_dict[k].second));
  }
}

// The versions torchvision's modules declare (_version) where they are not 1, by module name.
TEST(TrainCheckpointTest, ModuleVersionsAsTorchvisionRecordsThem) {
  auto versions_of = [](const std::string& arch) {
    auto model = models::create_model(arch, 3, models::Init::kSkip);
    std::map<std::string, int64_t> out;
    for (const auto& [path, version] : module_versions(*model, arch)) out[path] = version;
    return out;
  };
  auto resnet = versions_of("resnet18");
  EXPECT_EQ(resnet.at(""), 1);
  EXPECT_EQ(resnet.at("bn1"), 2);  // BatchNorm
  EXPECT_EQ(resnet.at("conv1"), 1);
  EXPECT_EQ(resnet.at("layer1.0.bn2"), 2);
  auto mnasnet = versions_of("mnasnet0_5");
  EXPECT_EQ(mnasnet.at(""), 2);  // MNASNet._version
  auto vit = versions_of("vit_b_16");
  EXPECT_EQ(vit.at("encoder.layers.encoder_layer_0.mlp"), 2);  // MLPBlock._version
  EXPECT_EQ(vit.at("encoder.layers.encoder_layer_0.ln_1"), 1);
  EXPECT_EQ(vit.at(""), 1);
  auto densenet = versions_of("densenet121");
  EXPECT_EQ(densenet.at("features.denseblock1"), 2);  // _DenseBlock._version
  EXPECT_EQ(densenet.at("features.denseblock1.denselayer1"), 1);
}

}  // namespace
}  // namespace ptinfer::train
