// oneDNN kernels for the general fast path's nodes (the lower_to_onednn pass puts them in the
// graph): a convolution and a linear layer, each one oneDNN primitive made once for the shape
// the graph holds, with its weights packed once into the layout the primitive picked, and the
// operations after it fused as oneDNN post-ops (bias, activations, a residual add).
//
// Layout: a convolution reads its input in channels_last (NHWC; an input in another layout is
// copied into it) and writes a channels_last at::Tensor, which LibTorch's own kernels for the
// nodes between convolutions (pooling, adds, concatenations, multiplications) keep, so a chain
// of convolutions needs no reorders. A linear layer reads and writes contiguous row-major
// tensors; on the CPU it keeps the fp32 matmuls off OpenBLAS, whose threads spin after each
// call on the cores the engine's next kernels need (design.md).
//
// oneDNN is the system's libdnnl.so.2, the one Debian's LibTorch links; threads follow
// at::get_num_threads() (OpenMP), as LibTorch's kernels do.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/core/stack.h>

#include <cstdint>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ptinfer::fastpath::graph {

// One operation fused after a kernel's main computation; a kernel applies its post-ops in order.
struct PostOp {
  enum class Kind { kEltwise, kSum };
  Kind kind = Kind::kEltwise;
  dnnl::algorithm algorithm = dnnl::algorithm::eltwise_relu;  // kEltwise only
  float alpha = 0.f, beta = 0.f;                              // the eltwise's parameters
};

// Where a kernel with a kSum post-op (dst := its result + addend, the addend being the kernel's
// second input) writes.
enum class SumDestination {
  // A new tensor holding a copy of the addend; or the addend's own memory when nothing else can
  // see it any more (the stack holds the only reference to it and to its storage: the add was
  // its last reader and no view of it is alive), which saves the copy.
  kFresh,
  // The addend itself, as the traced aten::add_(addend, x) wrote into it.
  kAddend,
};

// Weights packed for primitives, shared across the graphs of one model (one per input shape):
// keyed by the source tensor's memory (its data pointer, sizes and strides: a graph's weight may
// be a new view of the model's tensor, such as the transpose a linear layer's trace records;
// the entry keeps the source alive, so that its address stays its own) and the layout the
// primitive asked for.
class PackedWeightCache {
 public:
  // `source` (fp32 on the CPU) in layout `packed`, reordered from `plain` (the layout of
  // source's memory) on the first request and kept.
  dnnl::memory get(const at::Tensor& source, const dnnl::memory::desc& plain,
                   const dnnl::memory::desc& packed);
  size_t entries() const { return entries_.size(); }

 private:
  struct Entry {
    at::Tensor source;
    dnnl::memory::desc desc;
    at::Tensor bytes;  // the packed copy's memory
    dnnl::memory memory;
  };
  std::vector<Entry> entries_;
};

// A node's kernel and the oneDNN implementation that runs it ("brg:avx512_core", "jit:avx2",
// ...: what `ptinfer models` and the tests report).
struct OneDnnKernel {
  torch::jit::Operation run;
  std::string implementation;
};

struct ConvolutionSpec {
  at::Tensor weight;                 // [O, C / groups, kH, kW], fp32
  std::optional<at::Tensor> bias;    // [O], fp32
  std::vector<int64_t> stride, padding, dilation;  // 2 each, as aten::_convolution takes them
  int64_t groups = 1;
  std::vector<int64_t> input_sizes;  // [N, C, H, W]
  std::vector<PostOp> post_ops;      // at most one kSum
  SumDestination sum_destination = SumDestination::kFresh;
  bool bf16 = false;  // input, weights and output in bf16 (the bias and accumulation fp32)
};

// The kernel of a 2-D convolution, not transposed: pops x ([N, C, H, W], fp32 or bf16, in any
// layout; converted to the kernel's dtype where it differs) and, pushed after x, the addend
// when post_ops has a kSum (of the output's sizes, fp32 or bf16), and pushes the output,
// channels_last, in the kernel's dtype (fp32, or bf16 with `bf16`). Its weights come through `cache` (or are
// packed for this kernel alone when it is null). Throws Error(kUnsupported) when oneDNN has no
// primitive for the spec on this CPU or the sizes do not fit it.
OneDnnKernel make_convolution(const ConvolutionSpec& spec, PackedWeightCache* cache);

struct LinearSpec {
  at::Tensor weight;               // [O, K], fp32, any strides (aten::linear's weight, or the
                                   // transpose of aten::mm's second operand)
  std::optional<at::Tensor> bias;  // [O], fp32
  std::vector<int64_t> input_sizes = {};  // [..., K]
  std::vector<PostOp> post_ops = {};      // at most one kSum
  SumDestination sum_destination = SumDestination::kFresh;
  bool bf16 = false;  // as ConvolutionSpec's
};

// The kernel of aten::linear (x Wᵀ + b) as a oneDNN matmul: pops x (of input_sizes, any
// strides; and the addend, as make_convolution) and pushes [..., O], contiguous, in the
// kernel's dtype. Throws as make_convolution.
OneDnnKernel make_linear(const LinearSpec& spec, PackedWeightCache* cache);

// The kernel of aten::matmul of two activations with the same batch dims (attention's q kᵀ and
// its weights times v): pops a [..., M, K] and b [..., K, N] (fp32 or bf16, any strides;
// converted to the kernel's dtype, bf16 with `bf16`) and pushes [..., M, N], contiguous, in
// the kernel's dtype. The primitive reads the strides the inputs come with (a
// transposed k needs no copy); it is made on the first call and again when they change (kept
// for the last few), and an input whose strides oneDNN has only its reference kernel for is
// made contiguous first. Throws Error(kUnsupported) for sizes it does not take (broadcast batch
// dims, fewer than 3 dims, more than oneDNN's 12).
OneDnnKernel make_matmul(const std::vector<int64_t>& a_sizes, const std::vector<int64_t>& b_sizes,
                         bool bf16 = false);

}  // namespace ptinfer::fastpath::graph
