#include "models/blocks/basic_conv2d.h"

#include <torch/torch.h>

#include <string>

#include "common/error.h"
#include "models/blocks/layers.h"

namespace ptinfer::models {

BasicConv2dImpl::BasicConv2dImpl(const BasicConv2dOptions& o, Init init) {
  bool valid = o.in >= 1 && o.out >= 1;
  for (int i = 0; i < 2; ++i) {
    valid = valid && (*o.kernel)[i] >= 1 && (*o.stride)[i] >= 1 && (*o.padding)[i] >= 0;
  }
  if (!valid) {
    throw Error(ErrorKind::kInvalidArgument,
                "BasicConv2d: invalid options in=" + std::to_string(o.in) +
                    " out=" + std::to_string(o.out) + " kernel=" + std::to_string((*o.kernel)[0]) +
                    "x" + std::to_string((*o.kernel)[1]));
  }
  conv = register_module("conv", make_conv(torch::nn::Conv2dOptions(o.in, o.out, o.kernel)
                                               .stride(o.stride)
                                               .padding(o.padding)
                                               .bias(false),
                                           init));
  bn = register_module("bn", make_batch_norm(o.out, /*eps=*/0.001));
}

torch::Tensor BasicConv2dImpl::forward(const torch::Tensor& x) { return torch::relu(bn(conv(x))); }

}  // namespace ptinfer::models
