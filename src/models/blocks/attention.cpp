#include "models/blocks/attention.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <sstream>
#include <string>

#include "common/error.h"
#include "models/blocks/activation.h"
#include "models/blocks/layers.h"
#include "models/blocks/trunc_normal.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;
namespace F = torch::nn::functional;

void check(bool ok, const std::string& what, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, what + ": " + message);
}

std::string shape_str(const torch::Tensor& x) {
  std::ostringstream s;
  s << x.sizes();
  return s.str();
}

// The bound Python's a[start:stop] uses for index `i` of a dimension of `size`: negative
// indices count from the end, None is `if_none`, the result is clamped to [0, size].
int64_t python_bound(std::optional<int64_t> i, int64_t size, int64_t if_none) {
  if (!i) return if_none;
  const int64_t v = *i < 0 ? *i + size : *i;
  return std::clamp<int64_t>(v, 0, size);
}

// torchvision's mask for a shifted map of pad_h x pad_w: the map's 3 x 3 regions (the slices
// (0, -window), (-window, -shift), (-shift, None) of each side, Python's slice rules included)
// numbered 0..8, then per window, 0 between tokens of the same region and -100 between others.
// [num_windows, tokens, tokens], of `options` (the attention's dtype and device).
torch::Tensor shift_attention_mask(int64_t pad_h, int64_t pad_w, std::array<int64_t, 2> window,
                                   std::array<int64_t, 2> shift,
                                   const torch::TensorOptions& options) {
  torch::NoGradGuard no_grad;
  torch::Tensor mask = torch::zeros({pad_h, pad_w}, options);
  using Slice = std::pair<std::optional<int64_t>, std::optional<int64_t>>;
  const Slice h_slices[3] = {{0, -window[0]}, {-window[0], -shift[0]}, {-shift[0], std::nullopt}};
  const Slice w_slices[3] = {{0, -window[1]}, {-window[1], -shift[1]}, {-shift[1], std::nullopt}};
  int64_t count = 0;
  for (const Slice& h : h_slices) {
    for (const Slice& w : w_slices) {
      const int64_t h0 = python_bound(h.first, pad_h, 0), h1 = python_bound(h.second, pad_h, pad_h);
      const int64_t w0 = python_bound(w.first, pad_w, 0), w1 = python_bound(w.second, pad_w, pad_w);
      if (h1 > h0 && w1 > w0) mask.slice(0, h0, h1).slice(1, w0, w1).fill_(count);
      ++count;
    }
  }
  const int64_t num_windows = (pad_h / window[0]) * (pad_w / window[1]);
  mask = mask.view({pad_h / window[0], window[0], pad_w / window[1], window[1]})
             .permute({0, 2, 1, 3})
             .reshape({num_windows, window[0] * window[1]});
  mask = mask.unsqueeze(1) - mask.unsqueeze(2);
  return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0);
}

}  // namespace

MultiheadSelfAttentionImpl::MultiheadSelfAttentionImpl(int64_t embed_dim, int64_t num_heads,
                                                       double dropout, Init init)
    : embed_dim_(embed_dim), num_heads_(num_heads), dropout_(dropout) {
  const std::string what = "MultiheadSelfAttention";
  check(embed_dim >= 1 && num_heads >= 1, what, "embed_dim and num_heads must be >= 1");
  check(embed_dim % num_heads == 0, what,
        "embed_dim " + std::to_string(embed_dim) + " is not divisible by num_heads " +
            std::to_string(num_heads));
  check(dropout >= 0.0 && dropout <= 1.0, what, "dropout must be in [0, 1]");
  // nn.MultiheadAttention's order: in_proj_weight, in_proj_bias, then the out_proj child.
  // Init::kSkip: uninitialised, as make_linear's (a strict load writes them next).
  in_proj_weight_ = register_parameter("in_proj_weight", torch::empty({3 * embed_dim, embed_dim}));
  in_proj_bias_ = register_parameter("in_proj_bias", torch::empty({3 * embed_dim}));
  out_proj_ =
      register_module("out_proj", make_linear(nn::LinearOptions(embed_dim, embed_dim), init));
  if (init == Init::kSkip) return;
  torch::NoGradGuard no_grad;
  nn::init::xavier_uniform_(in_proj_weight_);
  nn::init::zeros_(in_proj_bias_);
  nn::init::zeros_(out_proj_->bias);
}

torch::Tensor MultiheadSelfAttentionImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 3 || x.size(2) != embed_dim_) {
    throw Error(ErrorKind::kInvalidArgument,
                "MultiheadSelfAttention input must have shape [N, L, " +
                    std::to_string(embed_dim_) + "], got " + shape_str(x));
  }
  const int64_t n = x.size(0), length = x.size(1);
  const int64_t head_dim = embed_dim_ / num_heads_;
  // One projection for query, key and value (rows 0..E, E..2E, 2E..3E of in_proj_weight), each
  // split into heads: [3, N, heads, L, head_dim].
  const torch::Tensor qkv = torch::linear(x, in_proj_weight_, in_proj_bias_)
                                .view({n, length, 3, num_heads_, head_dim})
                                .permute({2, 0, 3, 1, 4});
  const torch::Tensor q = qkv[0] / std::sqrt(static_cast<double>(head_dim));
  torch::Tensor attn = torch::matmul(q, qkv[1].transpose(-2, -1)).softmax(-1);
  if (dropout_ > 0.0) attn = torch::dropout(attn, dropout_, is_training());
  const torch::Tensor out =
      torch::matmul(attn, qkv[2]).transpose(1, 2).reshape({n, length, embed_dim_});
  return out_proj_(out);
}

torch::Tensor shifted_window_attention(const torch::Tensor& input, const torch::Tensor& qkv_weight,
                                       const torch::Tensor& proj_weight,
                                       const torch::Tensor& relative_position_bias,
                                       std::array<int64_t, 2> window_size, int64_t num_heads,
                                       std::array<int64_t, 2> shift_size, double attention_dropout,
                                       double dropout, bool training, const torch::Tensor& qkv_bias,
                                       const torch::Tensor& proj_bias,
                                       const torch::Tensor& logit_scale) {
  if (input.dim() != 4) {
    throw Error(
        ErrorKind::kInvalidArgument,
        "shifted_window_attention input must have shape [B, H, W, C], got " + shape_str(input));
  }
  const int64_t batch = input.size(0), height = input.size(1), width = input.size(2);
  const int64_t channels = input.size(3);
  // Pad the feature map to multiples of the window size.
  const int64_t pad_r = (window_size[1] - width % window_size[1]) % window_size[1];
  const int64_t pad_b = (window_size[0] - height % window_size[0]) % window_size[0];
  torch::Tensor x = F::pad(input, F::PadFuncOptions({0, 0, 0, pad_r, 0, pad_b}));
  const int64_t pad_h = x.size(1), pad_w = x.size(2);

  // No shift along a side the window already covers.
  if (window_size[0] >= pad_h) shift_size[0] = 0;
  if (window_size[1] >= pad_w) shift_size[1] = 0;
  const bool shifted = shift_size[0] + shift_size[1] > 0;
  if (shifted) x = torch::roll(x, {-shift_size[0], -shift_size[1]}, {1, 2});

  // Partition into windows: [B * windows, tokens, C].
  const int64_t rows = pad_h / window_size[0], cols = pad_w / window_size[1];
  const int64_t num_windows = rows * cols;
  const int64_t tokens = window_size[0] * window_size[1];
  x = x.view({batch, rows, window_size[0], cols, window_size[1], channels})
          .permute({0, 1, 3, 2, 4, 5})
          .reshape({batch * num_windows, tokens, channels});

  const bool cosine = logit_scale.defined();
  torch::Tensor bias = qkv_bias;
  if (cosine && bias.defined()) {  // v2 has no key bias
    bias = bias.clone();
    const int64_t length = bias.numel() / 3;
    bias.slice(0, length, 2 * length).zero_();
  }
  const torch::Tensor qkv = torch::linear(x, qkv_weight, bias)
                                .reshape({x.size(0), x.size(1), 3, num_heads, channels / num_heads})
                                .permute({2, 0, 3, 1, 4});
  torch::Tensor q = qkv[0], k = qkv[1], v = qkv[2];
  torch::Tensor attn;
  if (cosine) {
    const auto unit = F::NormalizeFuncOptions().dim(-1);
    attn = F::normalize(q, unit).matmul(F::normalize(k, unit).transpose(-2, -1));
    attn = attn * torch::clamp_max(logit_scale, std::log(100.0)).exp();
  } else {
    q = q * std::pow(static_cast<double>(channels / num_heads), -0.5);
    attn = q.matmul(k.transpose(-2, -1));
  }
  attn = attn + relative_position_bias;

  if (shifted) {
    const torch::Tensor mask =
        shift_attention_mask(pad_h, pad_w, window_size, shift_size, x.options());
    attn = attn.view({x.size(0) / num_windows, num_windows, num_heads, tokens, tokens});
    attn = attn + mask.unsqueeze(1).unsqueeze(0);
    attn = attn.view({-1, num_heads, tokens, tokens});
  }

  attn = attn.softmax(-1);
  if (attention_dropout > 0.0) attn = torch::dropout(attn, attention_dropout, training);
  x = attn.matmul(v).transpose(1, 2).reshape({x.size(0), x.size(1), channels});
  x = torch::linear(x, proj_weight, proj_bias);
  if (dropout > 0.0) x = torch::dropout(x, dropout, training);

  // Undo the windows, the shift and the padding.
  x = x.view({batch, rows, cols, window_size[0], window_size[1], channels})
          .permute({0, 1, 3, 2, 4, 5})
          .reshape({batch, pad_h, pad_w, channels});
  if (shifted) x = torch::roll(x, {shift_size[0], shift_size[1]}, {1, 2});
  return x.slice(1, 0, height).slice(2, 0, width).contiguous();
}

ShiftedWindowAttentionImpl::ShiftedWindowAttentionImpl(const ShiftedWindowAttentionOptions& options,
                                                       Init init)
    : options_(options) {
  const std::string what = "ShiftedWindowAttention";
  const auto& [window_h, window_w] = options.window_size;
  const bool v2 = options.version == SwinVersion::kV2;
  check(options.dim >= 1 && options.num_heads >= 1, what, "dim and num_heads must be >= 1");
  check(options.dim % options.num_heads == 0, what,
        "dim " + std::to_string(options.dim) + " is not divisible by num_heads " +
            std::to_string(options.num_heads));
  check(std::min(window_h, window_w) >= (v2 ? 2 : 1), what,
        std::string("window sizes must be >= ") + (v2 ? "2 (v2)" : "1"));
  check(options.shift_size[0] >= 0 && options.shift_size[1] >= 0, what, "shifts must be >= 0");
  check(options.attention_dropout >= 0.0 && options.attention_dropout <= 1.0 &&
            options.dropout >= 0.0 && options.dropout <= 1.0,
        what, "dropout probabilities must be in [0, 1]");
  const int64_t dim = options.dim, heads = options.num_heads;

  qkv_ = register_module("qkv",
                         make_linear(nn::LinearOptions(dim, 3 * dim).bias(options.qkv_bias), init));
  proj_ = register_module("proj",
                          make_linear(nn::LinearOptions(dim, dim).bias(options.proj_bias), init));
  if (v2) {
    logit_scale_ = register_parameter("logit_scale", torch::log(10 * torch::ones({heads, 1, 1})));
    // The relative coordinates of the window, normalised to [-8, 8], then log-spaced.
    const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
    const torch::Tensor coords_h = torch::arange(-(window_h - 1), window_h, f32);
    const torch::Tensor coords_w = torch::arange(-(window_w - 1), window_w, f32);
    torch::Tensor table = torch::stack(torch::meshgrid({coords_h, coords_w}, "ij"))
                              .permute({1, 2, 0})
                              .contiguous()
                              .unsqueeze(0);  // [1, 2 Wh - 1, 2 Ww - 1, 2]
    table.select(3, 0).div_(window_h - 1);
    table.select(3, 1).div_(window_w - 1);
    table.mul_(8);
    table = torch::sign(table) * torch::log2(torch::abs(table) + 1.0) / 3.0;
    relative_coords_table_ = register_buffer("relative_coords_table", table);
  } else {
    // Init::kSkip: uninitialised, as make_linear's (a strict load writes it next).
    relative_position_bias_table_ =
        register_parameter("relative_position_bias_table",
                           torch::empty({(2 * window_h - 1) * (2 * window_w - 1), heads}));
    if (init != Init::kSkip) trunc_normal_(relative_position_bias_table_, 0.0, 0.02);
  }
  // Pair-wise relative position of the window's tokens, as one index into the table.
  const torch::Tensor coords =
      torch::stack(torch::meshgrid({torch::arange(window_h), torch::arange(window_w)}, "ij"));
  const torch::Tensor flat = torch::flatten(coords, 1);  // [2, Wh Ww]
  torch::Tensor relative = (flat.unsqueeze(2) - flat.unsqueeze(1)).permute({1, 2, 0}).contiguous();
  relative.select(2, 0).add_(window_h - 1);
  relative.select(2, 1).add_(window_w - 1);
  relative.select(2, 0).mul_(2 * window_w - 1);
  relative_position_index_ = register_buffer("relative_position_index", relative.sum(-1).flatten());
  if (v2) {
    cpb_mlp_ = register_module(
        "cpb_mlp", nn::Sequential(make_linear(nn::LinearOptions(2, 512).bias(true), init),
                                  Activation(ActivationKind::kReLU),
                                  make_linear(nn::LinearOptions(512, heads).bias(false), init)));
  }
}

torch::Tensor ShiftedWindowAttentionImpl::relative_position_bias() {
  const int64_t tokens = options_.window_size[0] * options_.window_size[1];
  const bool v2 = options_.version == SwinVersion::kV2;
  const torch::Tensor table =
      v2 ? cpb_mlp_->forward(relative_coords_table_).view({-1, options_.num_heads})
         : relative_position_bias_table_;
  torch::Tensor bias = table.index({relative_position_index_})
                           .view({tokens, tokens, -1})
                           .permute({2, 0, 1})
                           .contiguous()
                           .unsqueeze(0);
  return v2 ? 16 * torch::sigmoid(bias) : bias;
}

torch::Tensor ShiftedWindowAttentionImpl::forward(const torch::Tensor& x) {
  if (x.dim() != 4 || x.size(3) != options_.dim) {
    throw Error(ErrorKind::kInvalidArgument,
                "ShiftedWindowAttention input must have shape [B, H, W, " +
                    std::to_string(options_.dim) + "], got " + shape_str(x));
  }
  return shifted_window_attention(
      x, qkv_->weight, proj_->weight, relative_position_bias(), options_.window_size,
      options_.num_heads, options_.shift_size, options_.attention_dropout, options_.dropout,
      is_training(), qkv_->bias, proj_->bias,  // undefined without a bias
      options_.version == SwinVersion::kV2 ? logit_scale_ : torch::Tensor());
}

}  // namespace ptinfer::models
