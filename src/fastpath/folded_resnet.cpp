#include "fastpath/folded_resnet.h"

#include <torch/version.h>

#include <string>

#include "common/error.h"

namespace ptinfer::fastpath {
namespace {

namespace nn = torch::nn;

[[noreturn]] void unsupported(const std::string& what) {
  throw Error(ErrorKind::kUnsupported, "fast path: " + what);
}

std::shared_ptr<nn::Module> child(const std::shared_ptr<nn::Module>& parent,
                                  const std::string& name, const std::string& path) {
  for (const auto& c : parent->named_children()) {
    if (c.key() == name) return c.value();
  }
  unsupported("module " + path + name + " is missing");
}

FoldedConv fold_pair(const std::shared_ptr<nn::Module>& parent, const std::string& conv_name,
                     const std::string& bn_name, const std::string& path) {
  auto conv = child(parent, conv_name, path);
  auto bn = child(parent, bn_name, path);
  const auto* c = conv->as<nn::Conv2d>();
  const auto* b = bn->as<nn::BatchNorm2d>();
  if (c == nullptr || b == nullptr) {
    unsupported(path + conv_name + " / " + path + bn_name + " are not Conv2d / BatchNorm2d");
  }
  return fold_batch_norm(*c, *b);
}

}  // namespace

FoldedConv fold_batch_norm(const nn::Conv2dImpl& conv, const nn::BatchNorm2dImpl& bn) {
  const auto& o = conv.options;
  const auto stride = o.stride();
  const auto dilation = o.dilation();
#if TORCH_VERSION_MAJOR >= 2
  const auto* padding = std::get_if<torch::ExpandingArray<2>>(&o.padding());
#else  // LibTorch 1.x spells its variant c10::variant
  const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
#endif
  if (padding == nullptr || (*padding)->at(0) != (*padding)->at(1) ||
      stride->at(0) != stride->at(1) || dilation->at(0) != 1 || dilation->at(1) != 1 ||
      o.kernel_size()->at(0) != o.kernel_size()->at(1) || conv.bias.defined()) {
    unsupported("a convolution with dilation, bias, or unequal stride/padding/kernel sides");
  }
  if (!bn.running_mean.defined() || !bn.weight.defined()) {
    unsupported("a BatchNorm without running statistics or affine parameters");
  }
  torch::NoGradGuard no_grad;
  const auto cpu = torch::TensorOptions().device(torch::kCPU);
  // double for the per-channel scale: the fold then adds one float rounding per weight.
  const torch::Tensor var = bn.running_var.to(cpu.dtype(torch::kFloat64));
  const torch::Tensor mean = bn.running_mean.to(cpu.dtype(torch::kFloat64));
  const torch::Tensor gamma = bn.weight.to(cpu.dtype(torch::kFloat64));
  const torch::Tensor beta = bn.bias.to(cpu.dtype(torch::kFloat64));
  const torch::Tensor scale = gamma / torch::sqrt(var + bn.options.eps());
  FoldedConv f;
  f.weight = (conv.weight.to(cpu.dtype(torch::kFloat64)) * scale.view({-1, 1, 1, 1}))
                 .to(torch::kFloat32)
                 .contiguous();
  f.bias = (beta - mean * scale).to(torch::kFloat32).contiguous();
  f.stride = stride->at(0);
  f.padding = (*padding)->at(0);
  f.groups = o.groups();
  return f;
}

FoldedResNet fold_resnet(const models::ResNet& model) {
  // named_children() is not const in LibTorch; nothing below modifies the model.
  auto root = const_cast<models::ResNet&>(model).shared_from_this();
  FoldedResNet r;
  r.stem = fold_pair(root, "conv1", "bn1", "");
  const bool basic = model.options().block == models::BlockKind::kBasic;
  for (int layer = 1; layer <= 4; ++layer) {
    const std::string lname = "layer" + std::to_string(layer);
    auto seq = child(root, lname, "");
    for (const auto& b : seq->named_children()) {
      const std::string path = lname + "." + b.key() + ".";
      FoldedBlock block;
      const int n = basic ? 2 : 3;
      for (int i = 1; i <= n; ++i) {
        block.convs.push_back(
            fold_pair(b.value(), "conv" + std::to_string(i), "bn" + std::to_string(i), path));
      }
      for (const auto& c : b.value()->named_children()) {
        if (c.key() == "downsample")
          block.downsample = fold_pair(c.value(), "0", "1", path + "downsample.");
      }
      r.blocks.push_back(std::move(block));
    }
  }
  const auto* fc = child(root, "fc", "")->as<nn::Linear>();
  if (fc == nullptr) unsupported("fc is not a Linear");
  r.fc_weight = fc->weight.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  r.fc_bias = fc->bias.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  return r;
}

}  // namespace ptinfer::fastpath
