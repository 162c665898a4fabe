#include "models/maxvit.h"

#include <cmath>
#include <numeric>
#include <sstream>
#include <string>

#include "common/error.h"
#include "models/blocks/input_check.h"
#include "models/blocks/layers.h"
#include "models/blocks/nested_sequential.h"
#include "models/blocks/squeeze_excitation.h"
#include "models/blocks/trunc_normal.h"
#include "models/families.h"

namespace ptinfer::models {
namespace {

namespace nn = torch::nn;

void check_option(bool ok, const std::string& message) {
  if (!ok) throw Error(ErrorKind::kInvalidArgument, "MaxVit options: " + message);
}

// torchvision's _get_conv_output_shape for a 3x3, stride-2, padding-1 convolution (the stem's
// and every block's first): (size - 3 + 2) // 2 + 1.
GridSize stride2_output(GridSize size) { return {(size[0] - 1) / 2 + 1, (size[1] - 1) / 2 + 1}; }

std::string grid_str(GridSize g) { return std::to_string(g[0]) + "x" + std::to_string(g[1]); }

std::string grids_str(const std::vector<GridSize>& grids) {
  std::string s;
  for (const GridSize& g : grids) s += (s.empty() ? "" : ", ") + grid_str(g);
  return s;
}

// torchvision's _get_relative_position_index(size, size): for tokens i, j of a size x size
// window (row-major), (yi - yj + size - 1) * (2 size - 1) + (xi - xj + size - 1).
torch::Tensor relative_position_index(int64_t size) {
  const int64_t n = size * size;
  torch::Tensor index = torch::empty({n, n}, torch::kInt64);
  auto a = index.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const int64_t dy = i / size - j / size + size - 1;
      const int64_t dx = i % size - j % size + size - 1;
      a[i][j] = dy * (2 * size - 1) + dx;
    }
  }
  return index;
}

// numpy.linspace(0, stop, num).tolist(): i * (stop / (num - 1)), the last exactly stop.
std::vector<double> linspace(double stop, int64_t num) {
  std::vector<double> values(num, 0.0);
  if (num < 2) return values;
  const double step = stop / static_cast<double>(num - 1);
  for (int64_t i = 0; i < num; ++i) values[i] = static_cast<double>(i) * step;
  values.back() = stop;
  return values;
}

}  // namespace

MaxVitMBConvImpl::MaxVitMBConvImpl(int64_t in_channels, int64_t out_channels, double expansion_ratio,
                       double squeeze_ratio, int64_t stride, BatchNormSpec norm,
                       ActivationKind activation, double p_stochastic_dropout, Init init) {
  check_option(stride == 1 || stride == 2,
               "MBConv stride must be 1 or 2, got " + std::to_string(stride));
  // Python's int(): truncation of the float product.
  const auto mid_channels =
      static_cast<int64_t>(static_cast<double>(out_channels) * expansion_ratio);
  const auto sqz_channels = static_cast<int64_t>(static_cast<double>(out_channels) * squeeze_ratio);
  check_option(in_channels >= 1 && out_channels >= 1 && mid_channels >= 1 && sqz_channels >= 1,
               "MBConv channels must be >= 1, got in " + std::to_string(in_channels) + ", out " +
                   std::to_string(out_channels) + ", mid " + std::to_string(mid_channels) +
                   ", squeeze " + std::to_string(sqz_channels));
  if (stride != 1 || in_channels != out_channels) {
    nn::Sequential proj;
    if (stride == 2) {
      proj->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(3).stride(stride).padding(1)));
    }
    proj->push_back(make_conv(nn::Conv2dOptions(in_channels, out_channels, 1).bias(true), init));
    proj_ = register_module("proj", proj);
  } else {
    register_module("proj", nn::Identity());
  }
  stochastic_depth_ = register_module(
      "stochastic_depth", StochasticDepth(p_stochastic_dropout, StochasticDepthMode::kRow));

  nn::Sequential layers;
  layers->push_back("pre_norm", make_batch_norm(in_channels, norm.eps, norm.momentum));
  layers->push_back("conv_a", nested_conv_norm_act(ConvNormActOptions(in_channels, mid_channels, 1)
                                                       .with_padding(0)
                                                       .with_norm(norm)
                                                       .with_activation(activation),
                                                   init));
  layers->push_back("conv_b", nested_conv_norm_act(ConvNormActOptions(mid_channels, mid_channels, 3)
                                                       .with_stride(stride)
                                                       .with_padding(1)
                                                       .with_groups(mid_channels)
                                                       .with_norm(norm)
                                                       .with_activation(activation),
                                                   init));
  layers->push_back("squeeze_excitation",
                    SqueezeExcitation(mid_channels, sqz_channels, init, ActivationKind::kSiLU,
                                      ActivationKind::kSigmoid));
  layers->push_back("conv_c",
                    make_conv(nn::Conv2dOptions(mid_channels, out_channels, 1).bias(true), init));
  layers_ = register_module("layers", layers);
}

torch::Tensor MaxVitMBConvImpl::forward(const torch::Tensor& x) {
  torch::Tensor res = proj_ ? proj_->forward(x) : x;
  return res + stochastic_depth_(layers_->forward(x));
}

RelativePositionalMultiHeadAttentionImpl::RelativePositionalMultiHeadAttentionImpl(
    int64_t feat_dim, int64_t head_dim, int64_t max_seq_len, Init init)
    : head_dim_(head_dim), max_seq_len_(max_seq_len) {
  check_option(feat_dim >= 1 && head_dim >= 1 && feat_dim % head_dim == 0,
               "feat_dim: " + std::to_string(feat_dim) +
                   " must be divisible by head_dim: " + std::to_string(head_dim));
  n_heads_ = feat_dim / head_dim;
  const auto size = static_cast<int64_t>(std::sqrt(static_cast<double>(max_seq_len)));
  // Python: feat_dim ** -0.5, a float power.
  scale_factor_ = std::pow(static_cast<double>(feat_dim), -0.5);
  to_qkv_ = register_module(
      "to_qkv", make_linear(nn::LinearOptions(feat_dim, n_heads_ * head_dim_ * 3), init));
  merge_ = register_module("merge",
                           make_linear(nn::LinearOptions(head_dim_ * n_heads_, feat_dim), init));
  relative_position_bias_table_ = register_parameter(
      "relative_position_bias_table", torch::zeros({(2 * size - 1) * (2 * size - 1), n_heads_}));
  relative_position_index_ =
      register_buffer("relative_position_index", relative_position_index(size));
  if (init != Init::kSkip) trunc_normal_(relative_position_bias_table_, 0.0, 0.02);
}

torch::Tensor RelativePositionalMultiHeadAttentionImpl::relative_positional_bias() const {
  torch::Tensor bias =
      relative_position_bias_table_.index_select(0, relative_position_index_.view(-1));
  bias = bias.view({max_seq_len_, max_seq_len_, -1}).permute({2, 0, 1}).contiguous();
  return bias.unsqueeze(0);
}

torch::Tensor RelativePositionalMultiHeadAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t b = x.size(0), g = x.size(1), p = x.size(2), d = x.size(3);
  const std::vector<torch::Tensor> qkv = to_qkv_(x).chunk(3, -1);
  auto heads = [&](const torch::Tensor& t) {
    return t.reshape({b, g, p, n_heads_, head_dim_}).permute({0, 1, 3, 2, 4});
  };
  const torch::Tensor q = heads(qkv[0]);
  const torch::Tensor k = heads(qkv[1]) * scale_factor_;
  const torch::Tensor v = heads(qkv[2]);
  // [B, G, H, P, P]: q kᵀ plus the [1, H, P, P] bias, softmax over the keys.
  torch::Tensor attention = torch::matmul(q, k.transpose(-2, -1));
  attention = torch::softmax(attention + relative_positional_bias(), -1);
  torch::Tensor out = torch::matmul(attention, v);
  out = out.permute({0, 1, 3, 2, 4}).reshape({b, g, p, d});
  return merge_(out);
}

torch::Tensor WindowPartitionImpl::forward(const torch::Tensor& x, int64_t p) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.reshape({b, c, h / p, p, w / p, p})
      .permute({0, 2, 4, 3, 5, 1})
      .reshape({b, (h / p) * (w / p), p * p, c});
}

torch::Tensor WindowDepartitionImpl::forward(const torch::Tensor& x, int64_t p,
                                             int64_t h_partitions, int64_t w_partitions) {
  const int64_t b = x.size(0), c = x.size(3);
  return x.reshape({b, h_partitions, w_partitions, p, p, c})
      .permute({0, 5, 1, 3, 2, 4})
      .reshape({b, c, h_partitions * p, w_partitions * p});
}

PartitionAttentionLayerImpl::PartitionAttentionLayerImpl(
    int64_t in_channels, int64_t head_dim, int64_t partition_size, PartitionType partition_type,
    GridSize grid_size, int64_t mlp_ratio, ActivationKind activation, double attention_dropout,
    double mlp_dropout, double p_stochastic_dropout, Init init)
    : grid_size_(grid_size), grid_(partition_type == PartitionType::kGrid) {
  check_option(partition_size >= 1 && grid_size[0] >= partition_size && mlp_ratio >= 1,
               "partition size " + std::to_string(partition_size) + " does not fit grid " +
                   grid_str(grid_size));
  const int64_t n_partitions = grid_size[0] / partition_size;
  p_ = grid_ ? n_partitions : partition_size;
  // torchvision asserts this in forward; the grid is fixed, so it is checked once here.
  check_option(grid_size[0] % p_ == 0 && grid_size[1] % p_ == 0,
               "Grid size must be divisible by partition size. Got grid size of " +
                   grid_str(grid_size) + " and partition size of " + std::to_string(p_));

  partition_op_ = register_module("partition_op", WindowPartition());
  departition_op_ = register_module("departition_op", WindowDepartition());
  if (grid_) {
    partition_swap_ = register_module("partition_swap", SwapAxes(-2, -3));
    departition_swap_ = register_module("departition_swap", SwapAxes(-2, -3));
  } else {
    register_module("partition_swap", nn::Identity());
    register_module("departition_swap", nn::Identity());
  }
  // Always partition_size^2 tokens: the grid case swaps the axes.
  attn_layer_ = register_module(
      "attn_layer",
      nn::Sequential(make_layer_norm(in_channels),
                     RelativePositionalMultiHeadAttention(in_channels, head_dim,
                                                          partition_size * partition_size, init),
                     nn::Dropout(nn::DropoutOptions(attention_dropout))));
  mlp_layer_ = register_module(
      "mlp_layer",
      nn::Sequential(make_layer_norm(in_channels),
                     make_linear(nn::LinearOptions(in_channels, in_channels * mlp_ratio), init),
                     Activation(activation),
                     make_linear(nn::LinearOptions(in_channels * mlp_ratio, in_channels), init),
                     nn::Dropout(nn::DropoutOptions(mlp_dropout))));
  stochastic_dropout_ = register_module(
      "stochastic_dropout", StochasticDepth(p_stochastic_dropout, StochasticDepthMode::kRow));
}

torch::Tensor PartitionAttentionLayerImpl::forward(const torch::Tensor& input) {
  const int64_t gh = grid_size_[0] / p_, gw = grid_size_[1] / p_;
  torch::Tensor x = partition_op_(input, p_);
  if (grid_) x = partition_swap_(x);
  x = x + stochastic_dropout_(attn_layer_->forward(x));
  x = x + stochastic_dropout_(mlp_layer_->forward(x));
  if (grid_) x = departition_swap_(x);
  return departition_op_(x, p_, gh, gw);
}

MaxVitLayerImpl::MaxVitLayerImpl(int64_t in_channels, int64_t out_channels, int64_t stride,
                                 const MaxVitLayerSpec& spec, double p_stochastic_dropout,
                                 GridSize grid_size, Init init) {
  nn::Sequential layers;
  layers->push_back(
      "MBconv", MaxVitMBConv(in_channels, out_channels, spec.expansion_ratio, spec.squeeze_ratio, stride,
                       spec.norm, spec.activation, p_stochastic_dropout, init));
  for (const auto& [name, type] : {std::pair{"window_attention", PartitionType::kWindow},
                                   std::pair{"grid_attention", PartitionType::kGrid}}) {
    // torchvision passes norm_layer=nn.LayerNorm here: the conv norm is not used.
    layers->push_back(name, PartitionAttentionLayer(
                                out_channels, spec.head_dim, spec.partition_size, type, grid_size,
                                spec.mlp_ratio, spec.activation, spec.attention_dropout,
                                spec.mlp_dropout, p_stochastic_dropout, init));
  }
  layers_ = register_module("layers", layers);
}

MaxVitBlockImpl::MaxVitBlockImpl(int64_t in_channels, int64_t out_channels,
                                 const MaxVitLayerSpec& spec, GridSize input_grid_size,
                                 const std::vector<double>& p_stochastic, Init init)
    : grid_size_(stride2_output(input_grid_size)) {
  check_option(!p_stochastic.empty(), "a MaxVitBlock needs at least one layer");
  layers_ = register_module("layers", nn::ModuleList());
  for (size_t idx = 0; idx < p_stochastic.size(); ++idx) {
    const bool first = idx == 0;
    MaxVitLayer layer(first ? in_channels : out_channels, out_channels, first ? 2 : 1, spec,
                      p_stochastic[idx], grid_size_, init);
    layers_->push_back(layer);
    layer_list_.push_back(layer);
  }
}

torch::Tensor MaxVitBlockImpl::forward(torch::Tensor x) {
  for (auto& layer : layer_list_) x = layer(x);
  return x;
}

std::vector<GridSize> MaxVit::block_grid_sizes(GridSize input) const {
  // torchvision's _make_block_input_shapes: the stem's stride, then each block's.
  std::vector<GridSize> grids;
  GridSize size = stride2_output(input);
  for (size_t i = 0; i < options_.block_channels.size(); ++i) {
    size = stride2_output(size);
    grids.push_back(size);
  }
  return grids;
}

MaxVit::MaxVit(const MaxVitOptions& options) : options_(options) {
  const auto& o = options;
  check_option(!o.block_channels.empty() && o.block_channels.size() == o.block_layers.size(),
               "block_channels and block_layers must have the same, non-zero length");
  for (size_t i = 0; i < o.block_channels.size(); ++i) {
    check_option(o.block_channels[i] >= 1 && o.block_layers[i] >= 1,
                 "every block needs channels >= 1 and at least one layer");
  }
  check_option(o.stem_channels >= 1 && o.partition_size >= 1 && o.head_dim >= 1,
               "stem_channels, partition_size and head_dim must be >= 1");
  check_option(o.num_classes >= 1,
               "num_classes must be >= 1, got " + std::to_string(o.num_classes));
  check_option(o.input_size[0] >= 1 && o.input_size[0] == o.input_size[1],
               "input_size must be square (torchvision's grid attention runs on square maps "
               "only), got " +
                   grid_str(o.input_size));
  block_grids_ = block_grid_sizes(o.input_size);
  for (size_t idx = 0; idx < block_grids_.size(); ++idx) {
    const GridSize g = block_grids_[idx];
    check_option(g[0] % o.partition_size == 0 && g[1] % o.partition_size == 0,
                 "Input size " + grid_str(g) + " of block " + std::to_string(idx) +
                     " is not divisible by partition size " + std::to_string(o.partition_size) +
                     ". Consider changing the partition size or the input size. Current "
                     "configuration yields the following block input sizes: " +
                     grids_str(block_grids_) + ".");
  }
  const Init init = o.init;
  const BatchNormSpec norm{1e-3, 0.99};  // partial(nn.BatchNorm2d, eps=1e-3, momentum=0.99)
  const ActivationKind activation = ActivationKind::kGELU;

  stem_ = register_module(
      "stem",
      nn::Sequential(nested_conv_norm_act(ConvNormActOptions(3, o.stem_channels, 3)
                                              .with_stride(2)
                                              .with_norm(norm)
                                              .with_activation(activation)
                                              .with_bias(false),
                                          init),
                     nested_conv_norm_act(ConvNormActOptions(o.stem_channels, o.stem_channels, 3)
                                              .with_norm(std::nullopt)
                                              .with_activation(std::nullopt)
                                              .with_bias(true),
                                          init)));

  MaxVitLayerSpec spec;
  spec.squeeze_ratio = o.squeeze_ratio;
  spec.expansion_ratio = o.expansion_ratio;
  spec.norm = norm;
  spec.activation = activation;
  spec.head_dim = o.head_dim;
  spec.mlp_ratio = o.mlp_ratio;
  spec.mlp_dropout = o.mlp_dropout;
  spec.attention_dropout = o.attention_dropout;
  spec.partition_size = o.partition_size;

  const std::vector<double> p_stochastic =
      linspace(o.stochastic_depth_prob,
               std::accumulate(o.block_layers.begin(), o.block_layers.end(), int64_t{0}));
  blocks_ = register_module("blocks", nn::ModuleList());
  GridSize input_size = stride2_output(o.input_size);  // the stem's stride
  size_t p_idx = 0;
  for (size_t i = 0; i < o.block_channels.size(); ++i) {
    const int64_t in_channels = i == 0 ? o.stem_channels : o.block_channels[i - 1];
    const auto n = static_cast<size_t>(o.block_layers[i]);
    const std::vector<double> p(p_stochastic.begin() + p_idx, p_stochastic.begin() + p_idx + n);
    MaxVitBlock block(in_channels, o.block_channels[i], spec, input_size, p, init);
    blocks_->push_back(block);
    block_list_.push_back(block);
    input_size = block->grid_size();
    p_idx += n;
  }

  const int64_t last = o.block_channels.back();
  classifier_ = register_module(
      "classifier",
      nn::Sequential(nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions(1)),
                     nn::Flatten(nn::FlattenOptions()), make_layer_norm(last),
                     make_linear(nn::LinearOptions(last, last), init), nn::Tanh(),
                     make_linear(nn::LinearOptions(last, o.num_classes).bias(false), init)));

  if (init == Init::kSkip) return;
  // torchvision's _init_weights (the bias tables keep their trunc_normal_).
  torch::NoGradGuard no_grad;
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2d>()) {
      nn::init::normal_(conv->weight, 0.0, 0.02);
      if (conv->options.bias()) nn::init::zeros_(conv->bias);
    } else if (auto* bn = module->as<nn::BatchNorm2d>()) {
      nn::init::constant_(bn->weight, 1.0);
      nn::init::constant_(bn->bias, 0.0);
    } else if (auto* linear = module->as<nn::Linear>()) {
      nn::init::normal_(linear->weight, 0.0, 0.02);
      if (linear->options.bias()) nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor MaxVit::forward(torch::Tensor x) {
  check_image_batch(x, "MaxVit");
  const std::vector<GridSize> grids = block_grid_sizes({x.size(2), x.size(3)});
  if (grids != block_grids_) {
    std::ostringstream shape;
    shape << x.sizes();
    throw Error(ErrorKind::kInvalidArgument,
                "MaxVit is built for " + grid_str(options_.input_size) +
                    " input: its attention partitions the block "
                    "feature maps " +
                    grids_str(block_grids_) + " into " + std::to_string(options_.partition_size) +
                    "x" + std::to_string(options_.partition_size) +
                    " windows and grids, but input " + shape.str() + " gives " + grids_str(grids));
  }
  x = stem_->forward(x);
  for (auto& block : block_list_) x = block(x);
  return classifier_->forward(x);
}

std::shared_ptr<MaxVit> maxvit_t(int64_t num_classes, Init init, int64_t image_size) {
  MaxVitOptions options;
  if (image_size != 0) options.input_size = {image_size, image_size};
  options.num_classes = num_classes;
  options.init = init;
  return std::make_shared<MaxVit>(options);
}

std::vector<ArchSpec> maxvit_archs() {
  ArchSpec spec;
  spec.name = "maxvit_t";
  spec.family = "maxvit";
  spec.factory = [](const ModelConfig& c) { return maxvit_t(c.num_classes, c.init, c.image_size); };
  spec.pretrained_file = "maxvit_t-bc5ab103.pth";
  spec.head_weight_key = "classifier.5.weight";
  spec.preset.resize_size = 224;
  spec.preset.crop_size = 224;
  spec.preset.interpolation = "bicubic";
  return {spec};
}

}  // namespace ptinfer::models
