// The key renames torchvision applies when loading old DenseNet and ViT checkpoints.
#include "models/legacy_keys.h"

#include <gtest/gtest.h>

namespace ptinfer::models {
namespace {

TEST(LegacyKeys, DenseNetNormReluConvIndicesJoinTheirNames) {
  EXPECT_EQ(densenet_current_key("features.denseblock1.denselayer1.norm.1.weight"),
            "features.denseblock1.denselayer1.norm1.weight");
  EXPECT_EQ(densenet_current_key("features.denseblock4.denselayer16.conv.2.weight"),
            "features.denseblock4.denselayer16.conv2.weight");
  EXPECT_EQ(densenet_current_key("features.denseblock2.denselayer3.norm.2.running_var"),
            "features.denseblock2.denselayer3.norm2.running_var");
  // Current keys, and keys outside dense layers, stay.
  for (const char* same : {"features.denseblock1.denselayer1.norm1.weight", "features.norm0.weight",
                           "features.transition1.norm.weight", "classifier.weight",
                           "features.denseblock1.denselayer1.norm.1.num_batches_tracked"}) {
    EXPECT_EQ(densenet_current_key(same), same);
  }
}

TEST(LegacyKeys, VitMlpLinearsBecomeSequentialIndices) {
  EXPECT_EQ(vit_current_key("encoder.layers.encoder_layer_0.mlp.linear_1.weight"),
            "encoder.layers.encoder_layer_0.mlp.0.weight");
  EXPECT_EQ(vit_current_key("encoder.layers.encoder_layer_11.mlp.linear_2.bias"),
            "encoder.layers.encoder_layer_11.mlp.3.bias");
  for (const char* same : {"encoder.layers.encoder_layer_0.mlp.0.weight", "heads.head.weight",
                           "encoder.layers.encoder_layer_0.mlp.linear_3.weight"}) {
    EXPECT_EQ(vit_current_key(same), same);
  }
}

}  // namespace
}  // namespace ptinfer::models
