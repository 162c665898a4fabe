#include "engine/torchscript_model.h"

#include <gtest/gtest.h>

namespace ptinfer::engine {
namespace {

// The names TorchScript gives BatchNorm classes, with and without its ___torch_mangle_<n>
// component; O2 keeps exactly these modules in fp32.
TEST(TorchScriptModelTest, BatchNormTypesAreRecognisedByClassName) {
  EXPECT_TRUE(is_script_batch_norm_type("__torch__.torch.nn.modules.batchnorm.BatchNorm2d"));
  EXPECT_TRUE(is_script_batch_norm_type(
      "__torch__.torch.nn.modules.batchnorm.___torch_mangle_3.BatchNorm1d"));
  EXPECT_TRUE(is_script_batch_norm_type("__torch__.torchvision.ops.misc.FrozenBatchNorm2d"));
  EXPECT_TRUE(is_script_batch_norm_type("BatchNorm3d"));
  EXPECT_FALSE(is_script_batch_norm_type("__torch__.torch.nn.modules.conv.Conv2d"));
  EXPECT_FALSE(is_script_batch_norm_type("__torch__.my.BatchNorm2dLike"));
  EXPECT_FALSE(is_script_batch_norm_type(""));
}

}  // namespace
}  // namespace ptinfer::engine
