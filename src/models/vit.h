// torchvision 0.14's Vision Transformer (torchvision/models/vision_transformer.py) as LibTorch
// modules, with torchvision's state-dict names and order:
//   class_token, conv_proj.{weight,bias}, encoder.pos_embedding,
//   encoder.layers.encoder_layer_<i>.{ln_1, self_attention.{in_proj_weight, in_proj_bias,
//   out_proj}, ln_2, mlp.0, mlp.3}, encoder.ln, heads.head.
// LayerNorm eps 1e-6, exact (erf) GELU. The builders without weights have no representation
// size (no heads.pre_logits) and no convolutional stem; neither is supported.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>

#include "models/blocks/attention.h"
#include "models/classifier.h"

namespace ptinfer::models {

struct VitOptions {
  int64_t image_size = 224;  // the only input size: it sizes the positional embedding
  int64_t patch_size = 16;
  int64_t num_layers = 12;
  int64_t num_heads = 12;
  int64_t hidden_dim = 768;
  int64_t mlp_dim = 3072;
  double dropout = 0.0;            // after the embedding, the attention and in the MLP
  double attention_dropout = 0.0;  // on the attention weights
  int64_t num_classes = 1000;
  Init init = Init::kTorchvision;  // classifier.h
};

// torchvision's EncoderBlock: x = input + dropout(self_attention(ln_1(input)));
// return x + mlp(ln_2(x)). Children: ln_1, self_attention, dropout, ln_2, mlp (the MLP
// Linear(hidden, mlp_dim), GELU, Dropout, Linear(mlp_dim, hidden), Dropout, initialised as
// torchvision's MLPBlock: xavier_uniform_ weights, N(0, 1e-6^2) biases).
class EncoderBlockImpl : public torch::nn::Module {
 public:
  EncoderBlockImpl(const VitOptions& options);
  // input: [N, L, hidden_dim] -> same shape.
  torch::Tensor forward(const torch::Tensor& input);

 private:
  torch::nn::LayerNorm ln_1_{nullptr}, ln_2_{nullptr};
  MultiheadSelfAttention self_attention_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
};
TORCH_MODULE(EncoderBlock);

// torchvision's Encoder: ln(layers(dropout(input + pos_embedding))). pos_embedding
// [1, seq_length, hidden_dim] (N(0, 0.02^2) under Init::kTorchvision); children dropout, layers
// (a Sequential of EncoderBlocks named "encoder_layer_0", ...), ln.
class EncoderImpl : public torch::nn::Module {
 public:
  EncoderImpl(int64_t seq_length, const VitOptions& options);
  // input: [N, seq_length, hidden_dim] -> same shape.
  torch::Tensor forward(const torch::Tensor& input);

 private:
  torch::Tensor pos_embedding_;
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::Sequential layers_{nullptr};
  torch::nn::LayerNorm ln_{nullptr};
};
TORCH_MODULE(Encoder);

// torchvision's VisionTransformer: patches by conv_proj (a patch_size-strided Conv2d to
// hidden_dim), the class token prepended, the encoder, the head on the class token.
// Parameters/children: class_token [1, 1, hidden_dim], conv_proj, encoder (seq_length
// (image_size / patch_size)^2 + 1), heads (a Sequential with one child, "head"). Init as
// torchvision: conv_proj trunc_normal_(std sqrt(1 / fan_in)) with zero bias, class_token and the
// head zero, attention as nn.MultiheadAttention, the MLPs as MLPBlock; Init::kSkip leaves every
// parameter but the LayerNorms' uninitialised (classifier.h).
class VisionTransformer : public ImageClassifier {
 public:
  // Throws Error(kInvalidArgument) for non-positive sizes, counts or num_classes, image_size not
  // divisible by patch_size, hidden_dim not divisible by num_heads, or a dropout outside [0, 1].
  explicit VisionTransformer(const VitOptions& options);
  // x: [N, 3, image_size, image_size] float -> logits [N, num_classes]. Throws
  // Error(kInvalidArgument) naming the shape for any other rank or channel count, and naming the
  // expected and the given size when H or W differ from image_size (as torchvision's assert).
  torch::Tensor forward(torch::Tensor x) override;
  const VitOptions& options() const { return options_; }

 private:
  VitOptions options_;
  torch::nn::Conv2d conv_proj_{nullptr};
  torch::Tensor class_token_;
  Encoder encoder_{nullptr};
  torch::nn::Sequential heads_{nullptr};
};

// torchvision's configurations (patch, layers, heads, hidden, MLP): vit_b_16 (16, 12, 12, 768,
// 3072), vit_b_32 (32, 12, 12, 768, 3072), vit_l_16 (16, 24, 16, 1024, 4096), vit_l_32 (32, 24,
// 16, 1024, 4096), vit_h_14 (14, 32, 16, 1280, 5120). config.image_size 0 means 224, or, with
// config.pretrained, the size of torchvision's DEFAULT weights (518 for vit_h_14, whose SWAG
// weights' positional embedding has 37^2 + 1 tokens), as torchvision's builder with weights.
std::shared_ptr<VisionTransformer> vit_b_16(const ModelConfig& config);
std::shared_ptr<VisionTransformer> vit_b_32(const ModelConfig& config);
std::shared_ptr<VisionTransformer> vit_l_16(const ModelConfig& config);
std::shared_ptr<VisionTransformer> vit_l_32(const ModelConfig& config);
std::shared_ptr<VisionTransformer> vit_h_14(const ModelConfig& config);

}  // namespace ptinfer::models
