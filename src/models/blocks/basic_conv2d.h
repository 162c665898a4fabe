// torchvision's BasicConv2d (googlenet.py and inception.py define the same block): a bias-free
// Conv2d, BatchNorm2d with eps 0.001, then ReLU. Children: conv, bn, so that state-dict keys
// read "Mixed_5b.branch1x1.conv.weight", "inception3a.branch1.bn.running_var", ...
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "models/classifier.h"

namespace ptinfer::models {

// What torchvision passes through BasicConv2d's **kwargs to nn.Conv2d.
struct BasicConv2dOptions {
  BasicConv2dOptions(int64_t in_channels, int64_t out_channels,
                     torch::ExpandingArray<2> kernel_size)
      : in(in_channels), out(out_channels), kernel(kernel_size) {}
  int64_t in, out;
  torch::ExpandingArray<2> kernel;
  torch::ExpandingArray<2> stride = 1;
  torch::ExpandingArray<2> padding = 0;

  BasicConv2dOptions& with_stride(torch::ExpandingArray<2> s) {
    stride = s;
    return *this;
  }
  BasicConv2dOptions& with_padding(torch::ExpandingArray<2> p) {
    padding = p;
    return *this;
  }
};

class BasicConv2dImpl : public torch::nn::Module {
 public:
  // Throws Error(kInvalidArgument) for non-positive channels, kernel or stride, or negative
  // padding. The conv is built by make_conv (uninitialised under Init::kSkip).
  BasicConv2dImpl(const BasicConv2dOptions& options, Init init);
  // relu(bn(conv(x))), the ReLU out of place (the same numbers as torchvision's inplace=True).
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv{nullptr};
  torch::nn::BatchNorm2d bn{nullptr};
};
TORCH_MODULE(BasicConv2d);

}  // namespace ptinfer::models
