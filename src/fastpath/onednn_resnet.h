// Fast-path kernels that call oneDNN directly (candidate (b)), the fast path's default.
//
// Every convolution is one oneDNN primitive with the folded bias, ReLU as an eltwise post-op and
// the residual add as a sum post-op: the block's last conv writes onto the shortcut's buffer (x
// itself, or downsample(x)), so a block needs no separate add or copy. Activations are NHWC, or
// after the stem oneDNN's blocked nChw16c for bottleneck networks on AVX-512 CPUs, where
// its 1x1 and Winograd kernels run faster in that layout (measured; see
// prefers_blocked_layout in the .cpp).
// Max pooling, the global average pool and the fc head are oneDNN primitives too (an fp32
// at::linear would call OpenBLAS, whose threads spin after each call on the cores the next
// convolutions need).
//
// Per input shape (N, H, W) a plan is built on first use and cached (at most kMaxPlans, least
// recently used evicted): primitives created once, weights reordered once into the layout the
// primitive picked (shared between plans that pick the same layout; the fp32 copy they came from
// is then dropped where a packed one can stand in for it), scratchpad owned by us.
// Activations live in one arena, reused across layers (buffer_arena.h) and calls; it only grows.
// Packed weights start in small pages; each forward first moves those packed by earlier forwards
// into one region of transparent huge pages (mapped_memory.h): the first prediction does not
// wait for the slower huge-page faults, later forwards stream their weights through fewer TLB
// entries (resnet50 batch 1: about 3% faster, docs/perf-log.md).
//
// The oneDNN used is the system's libdnnl.so.2, the same library Debian's LibTorch links, so
// one copy is loaded (fast_path_test checks it). Threads: oneDNN runs on OpenMP like LibTorch and
// follows at::get_num_threads().
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "fastpath/folded_resnet.h"
#include "models/classifier.h"

namespace ptinfer::fastpath {

class OneDnnResNet : public models::ImageClassifier {
 public:
  static constexpr size_t kMaxPlans = 8;

  // `dtype`: kFloat32 or kBFloat16 (weights and activations; biases and BN folding stay fp32).
  // `winograd`: fp32 3x3 stride-1 convolutions without a residual sum and with outputs of at
  // least 7x7 use one of oneDNN's Winograd kernels (F(4x4, 3x3) or F(2x2, 3x3) tiles, chosen by
  // output size in the .cpp) where this CPU has one (AVX-512), in the blocked layout those
  // kernels read (with reorders around them in a channels_last plan): fewer multiplications,
  // logits within fp32 rounding of the direct kernel's (fast_path_test bounds the difference);
  // the direct kernel otherwise.
  // `max_batch`: 0 runs every batch whole; N > 0 runs a larger batch as consecutive slices of
  // at most N images, which bounds the activation arena (and the plans cached) by N images
  // whatever the batch size. Each image's logits do not depend on the others in its batch.
  // Throws Error(kInvalidArgument) when max_batch < 0.
  OneDnnResNet(FoldedResNet folded, torch::ScalarType dtype, bool winograd = true,
               int64_t max_batch = 0);
  ~OneDnnResNet() override;

  // x: [N, 3, H, W] float of any dtype and layout -> logits [N, num_classes] in `dtype`, a new
  // tensor. Throws Error(kInvalidArgument) for another shape, Error(kUnsupported) when oneDNN
  // has no kernel for this dtype on this CPU (bf16 without AVX-512), Error(kInvalidArgument)
  // when the image is too small for the network (a spatial size reaching 0).
  torch::Tensor forward(torch::Tensor x) override;

  // Plans currently cached (for tests).
  size_t cached_plans() const;

  // The oneDNN implementation name (e.g. "jit_1x1:avx512_core", "ref:any") of each step of the
  // most recently used plan, in order; empty before the first forward (for tests).
  std::vector<std::string> last_plan_kernels() const;

  // Whether the most recently used plan keeps activations in nChw16c (for tests).
  bool last_plan_blocked() const;

  // Bytes of packed weights moved into huge-page regions so far (for tests).
  size_t huge_page_weight_bytes() const;

  // Convolutions still holding their fp32 OIHW weights (for tests). All of them until the first
  // plan; afterwards only those packed for Winograd alone (onednn_weights.h).
  size_t convs_holding_fp32_weights() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ptinfer::fastpath
