#include "fastpath/torch_resnet.h"

#include "fastpath/input_check.h"

namespace ptinfer::fastpath {
namespace {

void prepare(FoldedConv& c, torch::ScalarType dtype) {
  c.weight = c.weight.to(dtype).contiguous(torch::MemoryFormat::ChannelsLast);
  c.bias = c.bias.to(dtype);
}

torch::Tensor conv(const torch::Tensor& x, const FoldedConv& c) {
  return at::conv2d(x, c.weight, c.bias, {c.stride, c.stride}, {c.padding, c.padding}, {1, 1},
                    c.groups);
}

}  // namespace

TorchResNet::TorchResNet(FoldedResNet folded, torch::ScalarType dtype)
    : net_(std::move(folded)), dtype_(dtype) {
  prepare(net_.stem, dtype_);
  for (auto& b : net_.blocks) {
    for (auto& c : b.convs) prepare(c, dtype_);
    if (b.downsample) prepare(*b.downsample, dtype_);
  }
  net_.fc_weight = net_.fc_weight.to(dtype_);
  net_.fc_bias = net_.fc_bias.to(dtype_);
}

torch::Tensor TorchResNet::forward(torch::Tensor x) {
  check_input(x);
  c10::InferenceMode guard;
  x = x.to(torch::kCPU, dtype_).contiguous(torch::MemoryFormat::ChannelsLast);
  x = at::max_pool2d(conv(x, net_.stem).relu_(), {3, 3}, {2, 2}, {1, 1});
  for (const auto& b : net_.blocks) {
    torch::Tensor out = x;
    for (size_t i = 0; i + 1 < b.convs.size(); ++i) out = conv(out, b.convs[i]).relu_();
    out = conv(out, b.convs.back());
    out.add_(b.downsample ? conv(x, *b.downsample) : x).relu_();
    x = out;
  }
  return at::linear(x.mean({2, 3}), net_.fc_weight, net_.fc_bias);
}

}  // namespace ptinfer::fastpath
