#include "models/blocks/channel_shuffle.h"

#include <torch/torch.h>

#include <sstream>
#include <string>

#include "common/error.h"

namespace ptinfer::models {

torch::Tensor channel_shuffle(const torch::Tensor& x, int64_t groups) {
  if (x.dim() != 4 || groups < 1 || x.size(1) % groups != 0) {
    std::ostringstream shape;
    shape << x.sizes();
    throw Error(ErrorKind::kInvalidArgument,
                "channel_shuffle needs [N, C, H, W] with C divisible by groups=" +
                    std::to_string(groups) + ", got " + shape.str());
  }
  const int64_t batch = x.size(0), channels = x.size(1), height = x.size(2), width = x.size(3);
  torch::Tensor y = x.view({batch, groups, channels / groups, height, width});
  y = torch::transpose(y, 1, 2).contiguous();
  return y.view({batch, -1, height, width});
}

ChannelShuffleImpl::ChannelShuffleImpl(int64_t groups) : groups_(groups) {
  if (groups < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "channel shuffle groups must be >= 1, got " + std::to_string(groups));
  }
}

void ChannelShuffleImpl::pretty_print(std::ostream& stream) const {
  stream << "ChannelShuffle(groups=" << groups_ << ")";
}

}  // namespace ptinfer::models
