// torchvision 0.14's GoogLeNet (torchvision/models/googlenet.py) as LibTorch modules, with
// torchvision's state-dict names ("conv1.conv.weight", "inception3a.branch2.1.bn.running_mean",
// "aux1.fc2.weight", "fc.weight", ...).
//
// The auxiliary heads aux1 and aux2 are built and registered (aux_logits=True, as torchvision's
// GoogLeNet without weights, and their keys are in torchvision's checkpoints) but never run:
// forward returns the main logits in eval and in train, as ImageClassifier promises.
#pragma once

#include <cstdint>
#include <memory>

#include "models/blocks/basic_conv2d.h"
#include "models/classifier.h"

namespace ptinfer::models {

// torchvision's googlenet Inception block: the concatenation, in this order, of branch1 (1x1
// BasicConv2d), branch2 (Sequential: 1x1, 3x3), branch3 (Sequential: 1x1, then a 3x3 where the
// paper has 5x5: torchvision's known quirk, kept for its weights) and branch4 (Sequential:
// MaxPool2d(3, 1, padding 1, ceil_mode), 1x1). Children: branch1..branch4.
class GoogLeNetInceptionImpl : public torch::nn::Module {
 public:
  GoogLeNetInceptionImpl(int64_t in_channels, int64_t ch1x1, int64_t ch3x3red, int64_t ch3x3,
                         int64_t ch5x5red, int64_t ch5x5, int64_t pool_proj, Init init);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  BasicConv2d branch1_{nullptr};
  torch::nn::Sequential branch2_{nullptr}, branch3_{nullptr}, branch4_{nullptr};
};
TORCH_MODULE(GoogLeNetInception);

// torchvision's googlenet InceptionAux, parameters only (never run, see above). Children: conv
// (1x1 BasicConv2d to 128), fc1 (2048->1024), fc2 (1024->num_classes), dropout.
class GoogLeNetAuxImpl : public torch::nn::Module {
 public:
  GoogLeNetAuxImpl(int64_t in_channels, int64_t num_classes, double dropout, Init init);
};
TORCH_MODULE(GoogLeNetAux);

struct GoogLeNetOptions {
  int64_t num_classes = 1000;  // outputs of fc (and of the auxiliary heads)
  // x's channels are rescaled from ImageNet normalisation to (x - 0.5) / 0.5 first, as
  // torchvision's weights=DEFAULT sets (ModelConfig::pretrained).
  bool transform_input = false;
  double dropout = 0.2;            // before fc, train() only
  double dropout_aux = 0.7;        // the auxiliary heads' (registered, never run)
  Init init = Init::kTorchvision;  // classifier.h; kSkip before a strict load
};

// Children: conv1, maxpool1, conv2, conv3, maxpool2, inception3a, inception3b, maxpool3,
// inception4a..inception4e, maxpool4, inception5a, inception5b, aux1, aux2, avgpool, dropout,
// fc; every MaxPool2d with ceil_mode. Initialised as torchvision: conv and linear weights
// trunc_normal_(0, 0.01, a=-2, b=2), BatchNorm weight 1 and bias 0, linear biases nn.Linear's
// default.
class GoogLeNet : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for num_classes < 1 or a dropout outside [0, 1].
  explicit GoogLeNet(const GoogLeNetOptions& options);
  // x: [N, 3, H, W] (H, W >= 15) -> main logits [N, num_classes]; throws
  // Error(kInvalidArgument) naming the shape for anything but [N, 3, H, W].
  torch::Tensor forward(torch::Tensor x) override;
  const GoogLeNetOptions& options() const { return options_; }

 private:
  GoogLeNetOptions options_;
  BasicConv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::MaxPool2d maxpool1_{nullptr}, maxpool2_{nullptr}, maxpool3_{nullptr},
      maxpool4_{nullptr};
  GoogLeNetInception inception3a_{nullptr}, inception3b_{nullptr}, inception4a_{nullptr},
      inception4b_{nullptr}, inception4c_{nullptr}, inception4d_{nullptr}, inception4e_{nullptr},
      inception5a_{nullptr}, inception5b_{nullptr};
  GoogLeNetAux aux1_{nullptr}, aux2_{nullptr};
  torch::nn::AdaptiveAvgPool2d avgpool_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

std::shared_ptr<GoogLeNet> googlenet(const ModelConfig& config);

}  // namespace ptinfer::models
