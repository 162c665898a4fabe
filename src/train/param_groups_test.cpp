#include "train/param_groups.h"

#include <gtest/gtest.h>

#include "common/error.h"
#include "models/registry.h"

namespace ptinfer::train {
namespace {

bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

TEST(ParamGroupsTest, GuideGroupsBiasesWithoutDecay) {
  auto model = models::create_model("resnet18", 3);
  ParameterGroups g = group_parameters(*model, {});
  size_t total = model->parameters().size();
  EXPECT_EQ(g.no_decay.size() + g.decay.size(), total);
  for (const auto& p : g.no_decay) EXPECT_TRUE(ends_with(p.name, "bias")) << p.name;
  for (const auto& p : g.decay) EXPECT_FALSE(ends_with(p.name, "bias")) << p.name;
  // The guide decays BatchNorm weights: bn1.weight is in the decay group.
  bool bn_weight_decayed = false;
  for (const auto& p : g.decay) bn_weight_decayed |= p.name == "bn1.weight";
  EXPECT_TRUE(bn_weight_decayed);
  // named_parameters() order is kept within each group.
  EXPECT_EQ(g.decay.front().name, "conv1.weight");
  EXPECT_EQ(g.no_decay.front().name, "bn1.bias");
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.requires_grad());
}

TEST(ParamGroupsTest, NoDecayBatchNormMovesBatchNormWeights) {
  auto model = models::create_model("resnet18", 3);
  GroupingOptions o;
  o.no_decay_batch_norm = true;
  ParameterGroups g = group_parameters(*model, o);
  for (const auto& p : g.decay) {
    EXPECT_TRUE(p.name.find("conv") != std::string::npos || p.name == "fc.weight" ||
                p.name.find("downsample.0") != std::string::npos)
        << p.name;
  }
  bool has_bn = false;
  for (const auto& p : g.no_decay) has_bn |= p.name == "layer1.0.bn2.weight";
  EXPECT_TRUE(has_bn);
}

TEST(ParamGroupsTest, HeadOnlyFreezesTheRest) {
  auto model = models::create_model("resnet18", 3);
  GroupingOptions o;
  o.trainable_prefix = "fc.";
  ParameterGroups g = group_parameters(*model, o);
  ASSERT_EQ(g.decay.size(), 1u);
  ASSERT_EQ(g.no_decay.size(), 1u);
  EXPECT_EQ(g.decay[0].name, "fc.weight");
  EXPECT_EQ(g.no_decay[0].name, "fc.bias");
  for (const auto& item : model->named_parameters()) {
    EXPECT_EQ(item.value().requires_grad(), item.key().rfind("fc.", 0) == 0) << item.key();
  }
  o.trainable_prefix = "head.";
  try {
    group_parameters(*model, o);
    ADD_FAILURE() << "no error for a prefix nothing matches";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("head."), std::string::npos);
  }
}

}  // namespace
}  // namespace ptinfer::train
