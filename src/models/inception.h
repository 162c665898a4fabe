// torchvision 0.14's Inception v3 (torchvision/models/inception.py, class Inception3) as LibTorch
// modules, with torchvision's state-dict names ("Conv2d_1a_3x3.conv.weight",
// "Mixed_6b.branch7x7_2.bn.running_mean", "AuxLogits.fc.weight", "fc.weight", ...).
//
// The auxiliary head AuxLogits is built and registered (aux_logits=True, as torchvision's
// Inception3 without weights, and its keys are in torchvision's checkpoints) but never run:
// forward returns the main logits in eval and in train, as ImageClassifier promises.
#pragma once

#include <cstdint>
#include <memory>

#include "models/blocks/basic_conv2d.h"
#include "models/classifier.h"

namespace ptinfer::models {

// The mixed blocks, each the channel concatenation of its branches in torchvision's order;
// every conv is a BasicConv2d named as torchvision's attribute. Pools are F.avg_pool2d(3, 1,
// padding 1) (count_include_pad) or F.max_pool2d(3, 2) as torchvision's.
// InceptionA: branch1x1, branch5x5_1/_2, branch3x3dbl_1/_2/_3, branch_pool (after avg pool).
class InceptionAImpl : public torch::nn::Module {
 public:
  InceptionAImpl(int64_t in_channels, int64_t pool_features, Init init);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  BasicConv2d branch1x1_{nullptr}, branch5x5_1_{nullptr}, branch5x5_2_{nullptr},
      branch3x3dbl_1_{nullptr}, branch3x3dbl_2_{nullptr}, branch3x3dbl_3_{nullptr},
      branch_pool_{nullptr};
};
TORCH_MODULE(InceptionA);

// InceptionB (grid reduction): branch3x3 (3x3/2), branch3x3dbl_1/_2/_3 (the last 3x3/2), then the
// max pool 3x3/2 of x.
class InceptionBImpl : public torch::nn::Module {
 public:
  InceptionBImpl(int64_t in_channels, Init init);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  BasicConv2d branch3x3_{nullptr}, branch3x3dbl_1_{nullptr}, branch3x3dbl_2_{nullptr},
      branch3x3dbl_3_{nullptr};
};
TORCH_MODULE(InceptionB);

// InceptionC (factorised 7x7): branch1x1, branch7x7_1/_2/_3, branch7x7dbl_1.._5, branch_pool.
class InceptionCImpl : public torch::nn::Module {
 public:
  InceptionCImpl(int64_t in_channels, int64_t channels_7x7, Init init);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  BasicConv2d branch1x1_{nullptr}, branch7x7_1_{nullptr}, branch7x7_2_{nullptr},
      branch7x7_3_{nullptr}, branch7x7dbl_1_{nullptr}, branch7x7dbl_2_{nullptr},
      branch7x7dbl_3_{nullptr}, branch7x7dbl_4_{nullptr}, branch7x7dbl_5_{nullptr},
      branch_pool_{nullptr};
};
TORCH_MODULE(InceptionC);

// InceptionD (grid reduction): branch3x3_1/_2 (3x3/2), branch7x7x3_1.._4 (the last 3x3/2), then
// the max pool 3x3/2 of x.
class InceptionDImpl : public torch::nn::Module {
 public:
  InceptionDImpl(int64_t in_channels, Init init);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  BasicConv2d branch3x3_1_{nullptr}, branch3x3_2_{nullptr}, branch7x7x3_1_{nullptr},
      branch7x7x3_2_{nullptr}, branch7x7x3_3_{nullptr}, branch7x7x3_4_{nullptr};
};
TORCH_MODULE(InceptionD);

// InceptionE (expanded filter bank): branch1x1, branch3x3_1 then [2a (1x3), 2b (3x1)],
// branch3x3dbl_1, _2 then [3a (1x3), 3b (3x1)], branch_pool.
class InceptionEImpl : public torch::nn::Module {
 public:
  InceptionEImpl(int64_t in_channels, Init init);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  BasicConv2d branch1x1_{nullptr}, branch3x3_1_{nullptr}, branch3x3_2a_{nullptr},
      branch3x3_2b_{nullptr}, branch3x3dbl_1_{nullptr}, branch3x3dbl_2_{nullptr},
      branch3x3dbl_3a_{nullptr}, branch3x3dbl_3b_{nullptr}, branch_pool_{nullptr};
};
TORCH_MODULE(InceptionE);

// torchvision's InceptionAux, parameters only (never run, see above). Children: conv0 (1x1 to
// 128), conv1 (5x5 to 768), fc (768->num_classes).
class InceptionAuxImpl : public torch::nn::Module {
 public:
  InceptionAuxImpl(int64_t in_channels, int64_t num_classes, Init init);
  torch::nn::Linear& fc() { return fc_; }

 private:
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(InceptionAux);

struct InceptionV3Options {
  int64_t num_classes = 1000;  // outputs of fc (and of AuxLogits)
  // x's channels are rescaled from ImageNet normalisation to (x - 0.5) / 0.5 first, as
  // torchvision's weights=DEFAULT sets (ModelConfig::pretrained).
  bool transform_input = false;
  double dropout = 0.5;            // before fc, train() only
  Init init = Init::kTorchvision;  // classifier.h; kSkip before a strict load
};

// Children: Conv2d_1a_3x3, Conv2d_2a_3x3, Conv2d_2b_3x3, maxpool1, Conv2d_3b_1x1, Conv2d_4a_3x3,
// maxpool2, Mixed_5b..5d (A), Mixed_6a (B), Mixed_6b..6e (C), AuxLogits, Mixed_7a (D),
// Mixed_7b, Mixed_7c (E), avgpool, dropout, fc. Initialised as torchvision: conv and linear
// weights trunc_normal_(0, stddev, a=-2, b=2) with stddev 0.1, but 0.001 for AuxLogits.fc (the
// only layer carrying a stddev attribute: torchvision sets AuxLogits.conv1's on the BasicConv2d,
// which its init loop never reads, so that conv gets 0.1 as well); BatchNorm weight 1 and bias 0;
// linear biases nn.Linear's default.
class InceptionV3 : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for num_classes < 1 or dropout outside [0, 1].
  explicit InceptionV3(const InceptionV3Options& options);
  // x: [N, 3, H, W] (H, W >= 75) -> main logits [N, num_classes]; throws
  // Error(kInvalidArgument) naming the shape for anything but [N, 3, H, W].
  torch::Tensor forward(torch::Tensor x) override;
  const InceptionV3Options& options() const { return options_; }

 private:
  InceptionV3Options options_;
  BasicConv2d conv2d_1a_3x3_{nullptr}, conv2d_2a_3x3_{nullptr}, conv2d_2b_3x3_{nullptr},
      conv2d_3b_1x1_{nullptr}, conv2d_4a_3x3_{nullptr};
  torch::nn::MaxPool2d maxpool1_{nullptr}, maxpool2_{nullptr};
  InceptionA mixed_5b_{nullptr}, mixed_5c_{nullptr}, mixed_5d_{nullptr};
  InceptionB mixed_6a_{nullptr};
  InceptionC mixed_6b_{nullptr}, mixed_6c_{nullptr}, mixed_6d_{nullptr}, mixed_6e_{nullptr};
  InceptionAux aux_logits_{nullptr};
  InceptionD mixed_7a_{nullptr};
  InceptionE mixed_7b_{nullptr}, mixed_7c_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

std::shared_ptr<InceptionV3> inception_v3(const ModelConfig& config);

}  // namespace ptinfer::models
