// channel_shuffle against its definition, one output channel at a time, and its checks.
#include "models/blocks/channel_shuffle.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/error.h"

namespace ptinfer::models {
namespace {

TEST(ChannelShuffle, OutputChannelJTimesGroupsPlusGIsInputChannelGTimesPerGroupPlusJ) {
  torch::manual_seed(0);
  for (int64_t groups : {1, 2, 3}) {
    const int64_t channels = 6 * groups, per_group = channels / groups;
    const torch::Tensor x = torch::randn({2, channels, 3, 5});
    const torch::Tensor y = models::channel_shuffle(x, groups);
    ASSERT_EQ(y.sizes(), x.sizes());
    for (int64_t g = 0; g < groups; ++g) {
      for (int64_t j = 0; j < per_group; ++j) {
        EXPECT_TRUE(torch::equal(y.select(1, j * groups + g), x.select(1, g * per_group + j)))
            << "groups " << groups << ", g " << g << ", j " << j;
      }
    }
    // The module is the function and has no state.
    ChannelShuffle module(groups);
    EXPECT_TRUE(torch::equal(module(x), y));
    EXPECT_TRUE(module->parameters().empty() && module->buffers().empty());
  }
}

TEST(ChannelShuffle, RejectsIndivisibleChannelsAndOtherRanks) {
  for (const auto& shape : {std::vector<int64_t>{1, 5, 2, 2}, std::vector<int64_t>{4, 2, 2}}) {
    try {
      models::channel_shuffle(torch::zeros(shape), 2);
      FAIL() << "accepted " << shape;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    }
  }
  EXPECT_THROW(ChannelShuffle(0), Error);
}

}  // namespace
}  // namespace ptinfer::models
