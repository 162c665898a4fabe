#include "fastpath/onednn_resnet.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <list>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/error.h"
#include "fastpath/buffer_arena.h"
#include "fastpath/input_check.h"
#include "fastpath/mapped_memory.h"
#include "fastpath/onednn_weights.h"

namespace ptinfer::fastpath {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

// Winograd's tile size by the output's smaller side:
// - at least kWinogradLargeTileMinSide (ResNet's layer1 and layer2 at 224x224): F(4x4, 3x3)
//   (`jit_wino_4x3`) wherever oneDNN has it. At batches 1 and 2 oneDNN's own first pick for 56x56
//   outputs is F(2x2, 3x3); F(4x4) ran those convolutions 24% faster at batch 2 and ~5% at batch
//   1 (docs/perf-log.md).
// - from kWinogradAnyTileMinSide: whichever tiles oneDNN picks (at 14x14, batch 1: F(2x2),
//   measured as fast as F(4x4)).
// - from kWinogradSmallTileMinSide (ResNet's layer4 at 224x224: 7x7): only with F(2x2)
//   (`jit_fp32_wino_2x3`, which oneDNN picks at small batches). There F(4x4) would compute 8x8
//   tiles for 7x7 outputs, and its weights, 4x the size of the plain ones (37 MB for each 512x512
//   kernel), cost memory and a 50 ms transform with no speed to show for it; F(2x2)'s are 1.8x
//   the plain ones and ran those layers 1.35-1.45x as fast as the direct kernel at batch 1.
constexpr int64_t kWinogradLargeTileMinSide = 28;
constexpr int64_t kWinogradAnyTileMinSide = 14;
constexpr int64_t kWinogradSmallTileMinSide = 7;
constexpr const char* kWinogradSmallTileKernel = "jit_fp32_wino_2x3";

// Whether `pd` is oneDNN's F(2x2, 3x3) Winograd kernel.
bool is_small_tile_winograd(const dnnl::convolution_forward::primitive_desc& pd) {
  return std::string(pd.impl_info_str()).rfind(kWinogradSmallTileKernel, 0) == 0;
}

// Activation buffers by role; a plan's steps name roles, and lay_out_buffers (buffer_arena.h)
// turns each role's successive values into offsets in one arena, sharing memory between values
// that are never alive at the same step. kWinoIn / kWinoOut hold a Winograd convolution's input
// and output in the blocked layout its kernel wants.
enum Role { kInput = 0, kShortcut, kBlockIn, kTemp1, kTemp2, kScratch, kWinoIn, kWinoOut, kLogits };

struct Binding {
  memory mem;  // a memory object whose handle is set to arena + offset before each call
  Role role;
  bool starts;        // a pure write: the role's old value is dead (buffer_arena.h)
  size_t offset = 0;  // assigned once the plan is complete
};

struct Step {
  dnnl::primitive prim;
  std::string kernel;  // oneDNN's name for the implementation it picked (impl_info_str)
  std::unordered_map<int, memory> args;
  std::vector<Binding> bindings;
};

struct Plan {
  std::array<int64_t, 3> key{};  // N, H, W
  bool blocked = false;          // activations in nChw16c, else channels_last (act_md)
  std::vector<Step> steps;
  size_t arena_bytes = 0;
  size_t input_offset = 0, out_offset = 0;  // where the forward writes x and reads the logits
  std::array<int64_t, 2> logits_dims{};     // N, classes
};

// Thrown while building a blocked plan when oneDNN offers only its reference kernel for a
// primitive in that layout: the plan is built again in channels_last.
struct BlockedLayoutRefused {};

}  // namespace

struct OneDnnResNet::Impl {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  torch::ScalarType dtype;
  memory::data_type dt;
  bool winograd = false;
  bool prefer_blocked = false;  // plans try the blocked layout first (prefers_blocked_layout)
  int64_t max_batch = 0;        // 0: whole batches; else the most images one forward runs at once
  // Huge-page memory holding the packed weights of earlier forwards (move_weights_to_huge_pages);
  // declared before the weights, so it outlives every memory object pointing into it.
  std::vector<std::unique_ptr<MappedMemory>> weight_regions;
  bool weights_to_move = false;  // a plan was built since the last move
  ConvWeights stem;
  struct Block {
    std::vector<ConvWeights> convs;
    std::unique_ptr<ConvWeights> downsample;
  };
  std::vector<Block> blocks;
  ConvWeights fc;         // the head as a 1x1 "convolution": weight [classes, features, 1, 1]
  std::list<Plan> plans;  // most recently used first
  torch::Tensor arena;    // uint8 storage for every plan's activations, grown on demand

  // The activations' layout in `plan`: oneDNN's blocked nChw16c (16 channels innermost, the
  // layout its jit 1x1 and Winograd kernels read natively) in a blocked plan, else channels_last.
  memory::desc act_md(const Plan& plan, int64_t n, int64_t c, int64_t h, int64_t w) const {
    return memory::desc({n, c, h, w}, dt, plan.blocked ? tag::nChw16c : tag::nhwc);
  }
  memory::desc nhwc_md(int64_t n, int64_t c, int64_t h, int64_t w) const {
    return memory::desc({n, c, h, w}, dt, tag::nhwc);
  }

  // Adds `c` reading role `src` [n, ic, h, w] and writing role `dst`, with ReLU and/or the sum
  // post-op (dst += conv(src)), both in the plan's layout or, with `channels_last_io`, in
  // channels_last; returns the output dims.
  std::array<int64_t, 4> add_conv(Plan& plan, ConvWeights& cw, Role src, std::array<int64_t, 4> in,
                                  Role dst, bool relu, bool sum, bool channels_last_io = false) {
    const FoldedConv& c = cw.folded;
    const int64_t k = cw.kernel, s = c.stride, p = c.padding;
    const int64_t oh = (in[2] + 2 * p - k) / s + 1, ow = (in[3] + 2 * p - k) / s + 1;
    if (oh < 1 || ow < 1) {
      throw Error(ErrorKind::kInvalidArgument, "input " + std::to_string(plan.key[1]) + "x" +
                                                   std::to_string(plan.key[2]) +
                                                   " is too small for this network");
    }
    const std::array<int64_t, 4> out{in[0], cw.out_channels, oh, ow};
    const memory::desc src_md = channels_last_io ? nhwc_md(in[0], in[1], in[2], in[3])
                                                 : act_md(plan, in[0], in[1], in[2], in[3]);
    const memory::desc dst_md = channels_last_io ? nhwc_md(out[0], out[1], out[2], out[3])
                                                 : act_md(plan, out[0], out[1], out[2], out[3]);
    const int64_t g = c.groups;
    const memory::dims wdims = cw.dims();
    const memory::desc w_any(wdims, dt, tag::any);
    dnnl::post_ops ops;
    if (sum) ops.append_sum(1.f);
    if (relu) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    dnnl::primitive_attr attr = user_scratchpad();
    attr.set_post_ops(ops);
    // Winograd where it applies (fp32, 3x3, stride 1, no groups, no residual sum, an output
    // size and tile size as above) and this CPU has the kernel: about 2x the direct kernel's
    // speed on 14x14 and larger outputs. It reads and writes a blocked layout:
    // in a blocked plan that is the activations' own, else reorders from and to channels_last go
    // around it.
    if (winograd && dt == memory::data_type::f32 && k == 3 && s == 1 && g == 1 && !sum &&
        std::min(oh, ow) >= kWinogradSmallTileMinSide) {
      const memory::desc src_any({in[0], in[1], in[2], in[3]}, dt, tag::any);
      const memory::desc dst_any({out[0], out[1], out[2], out[3]}, dt, tag::any);
      dnnl::convolution_forward::primitive_desc wpd;
      bool have_winograd = false;
      try {
        dnnl::convolution_forward::desc wd(dnnl::prop_kind::forward_inference,
                                           dnnl::algorithm::convolution_winograd, src_any, w_any,
                                           cw.bias.get_desc(), dst_any, {s, s}, {p, p}, {p, p});
        wpd = dnnl::convolution_forward::primitive_desc(wd, attr, eng);
        const int64_t side = std::min(oh, ow);
        if (side >= kWinogradLargeTileMinSide && is_small_tile_winograd(wpd)) {
          // oneDNN's next Winograd implementation that is not F(2x2), if it has one.
          dnnl::convolution_forward::primitive_desc larger(wd, attr, eng);
          while (larger.next_impl()) {
            if (!is_small_tile_winograd(larger)) {
              wpd = larger;
              break;
            }
          }
        }
        have_winograd = side >= kWinogradAnyTileMinSide || is_small_tile_winograd(wpd);
      } catch (const dnnl::error&) {
        // No Winograd kernel here (no AVX-512, or a shape it refuses): the direct one below.
      }
      if (have_winograd) {
        // A reorder on each side whose layout differs from the kernel's.
        const bool reorder_in = src_md != wpd.src_desc(), reorder_out = dst_md != wpd.dst_desc();
        if (reorder_in) {
          add_reorder(plan, dnnl::reorder::primitive_desc(eng, src_md, eng, wpd.src_desc()), src,
                      kWinoIn);
        }
        add_conv_step(plan, cw, wpd, reorder_in ? kWinoIn : src, reorder_out ? kWinoOut : dst,
                      false);
        if (reorder_out) {
          add_reorder(plan, dnnl::reorder::primitive_desc(eng, wpd.dst_desc(), eng, dst_md),
                      kWinoOut, dst);
        }
        return out;
      }
    }
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct, src_md, w_any,
                                      cw.bias.get_desc(), dst_md, {s, s}, {p, p}, {p, p});
    dnnl::convolution_forward::primitive_desc pd(d, attr, eng);
    add_conv_step(plan, cw, pd, src, dst, sum);
    return out;
  }

  // Primitive attributes with the scratchpad supplied by the plan (a role in the arena).
  static dnnl::primitive_attr user_scratchpad() {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
  }

  // A pooling step (`algo` over `kernel` with `strides`, symmetric `padding`) from role `src`
  // (layout `src_md`) to role `dst` (layout `dst_md`).
  void add_pooling(Plan& plan, dnnl::algorithm algo, const memory::desc& src_md,
                   const memory::desc& dst_md, const memory::dims& strides,
                   const memory::dims& kernel, const memory::dims& padding, Role src, Role dst) {
    dnnl::pooling_forward::desc desc(dnnl::prop_kind::forward_inference, algo, src_md, dst_md,
                                     strides, kernel, padding, padding);
    dnnl::pooling_forward::primitive_desc pd(desc, user_scratchpad(), eng);
    Step step;
    step.prim = dnnl::pooling_forward(pd);
    step.kernel = pd.impl_info_str();
    memory src_mem(src_md, eng, nullptr), dst_mem(dst_md, eng, nullptr),
        scratch(pd.scratchpad_desc(), eng, nullptr);
    step.args = {{DNNL_ARG_SRC, src_mem}, {DNNL_ARG_DST, dst_mem}, {DNNL_ARG_SCRATCHPAD, scratch}};
    step.bindings = {{src_mem, src, false}, {dst_mem, dst, true}, {scratch, kScratch, true}};
    plan.steps.push_back(std::move(step));
  }

  // The convolution `pd` as a step from role `src` to role `dst`, its weights reordered once per
  // layout (onednn_weights.h).
  // In a blocked plan, throws BlockedLayoutRefused (before packing) where oneDNN has only its
  // reference kernel for `pd`.
  void add_conv_step(Plan& plan, ConvWeights& cw,
                     const dnnl::convolution_forward::primitive_desc& pd, Role src, Role dst,
                     bool sum) {
    const std::string kernel = pd.impl_info_str();
    if (plan.blocked && kernel.rfind("ref", 0) == 0) throw BlockedLayoutRefused{};
    memory weights = cw.packed_for(pd.weights_desc(), eng, strm);

    Step step;
    step.prim = dnnl::convolution_forward(pd);
    step.kernel = kernel;
    memory src_mem(pd.src_desc(), eng, nullptr), dst_mem(pd.dst_desc(), eng, nullptr);
    memory scratch(pd.scratchpad_desc(), eng, nullptr);
    step.args = {{DNNL_ARG_SRC, src_mem},
                 {DNNL_ARG_WEIGHTS, weights},
                 {DNNL_ARG_BIAS, cw.bias},
                 {DNNL_ARG_DST, dst_mem},
                 {DNNL_ARG_SCRATCHPAD, scratch}};
    // With the sum post-op the destination already holds the shortcut: read and written.
    step.bindings = {{src_mem, src, false}, {dst_mem, dst, !sum}, {scratch, kScratch, true}};
    plan.steps.push_back(std::move(step));
  }

  // The reorder `pd` as a step from role `from` to role `to`.
  void add_reorder(Plan& plan, const dnnl::reorder::primitive_desc& pd, Role from, Role to) {
    const memory::desc from_md = pd.src_desc(), to_md = pd.dst_desc();
    memory from_mem(from_md, eng, nullptr), to_mem(to_md, eng, nullptr);
    Step step;
    step.prim = dnnl::reorder(pd);
    step.kernel = pd.impl_info_str();
    step.args = {{DNNL_ARG_FROM, from_mem}, {DNNL_ARG_TO, to_mem}};
    step.bindings = {{from_mem, from, false}, {to_mem, to, true}};
    plan.steps.push_back(std::move(step));
  }

  // Offsets for every binding, the input and the output (buffer_arena.h): the input is written
  // before step 0, the last activation read after the last step.
  void lay_out(Plan& plan, int64_t n, int64_t h, int64_t w) {
    const int after_last = static_cast<int>(plan.steps.size());
    std::vector<BufferUse> uses;
    uses.push_back({-1, kInput, true, nhwc_md(n, 3, h, w).get_size()});
    for (size_t i = 0; i < plan.steps.size(); ++i) {
      for (const Binding& b : plan.steps[i].bindings) {
        uses.push_back({static_cast<int>(i), b.role, b.starts, b.mem.get_desc().get_size()});
      }
    }
    const auto& d = plan.logits_dims;
    uses.push_back(
        {after_last, kLogits, false, memory::desc({d[0], d[1]}, dt, tag::nc).get_size()});
    const ArenaLayout layout = lay_out_buffers(uses);
    size_t u = 0;
    plan.input_offset = layout.offsets[u++];
    for (Step& step : plan.steps) {
      for (Binding& b : step.bindings) b.offset = layout.offsets[u++];
    }
    plan.out_offset = layout.offsets[u];
    plan.arena_bytes = layout.bytes;
  }

  // The plan for inputs [n, 3, h, w]: blocked where prefer_blocked and oneDNN has a kernel
  // better than its reference one for every primitive in that layout, else channels_last.
  // Weights packed for a refused blocked plan's convolutions stay cached (onednn_weights.h).
  Plan make_plan(int64_t n, int64_t h, int64_t w) {
    if (prefer_blocked) {
      try {
        return make_plan_in(true, n, h, w);
      } catch (const BlockedLayoutRefused&) {
      } catch (const dnnl::error&) {
        // No implementation at all in nChw16c for some primitive: channels_last decides.
      }
    }
    return make_plan_in(false, n, h, w);
  }

  Plan make_plan_in(bool blocked, int64_t n, int64_t h, int64_t w) {
    Plan plan;
    plan.key = {n, h, w};
    plan.blocked = blocked;
    // The stem reads the channels_last input (3 channels, which nChw16c would pad to 16) and
    // writes channels_last; a blocked plan turns the max pool's output into its layout.
    auto dims = add_conv(plan, stem, kInput, {n, 3, h, w}, kShortcut, true, false, true);

    // torchvision's maxpool: 3x3, stride 2, padding 1 (padding never wins a max).
    const int64_t ph = (dims[2] + 2 - 3) / 2 + 1, pw = (dims[3] + 2 - 3) / 2 + 1;
    const memory::desc stem_md = nhwc_md(dims[0], dims[1], dims[2], dims[3]);
    const memory::desc pooled_md = nhwc_md(dims[0], dims[1], ph, pw);
    const memory::desc block_md = act_md(plan, dims[0], dims[1], ph, pw);
    const Role pooled = pooled_md == block_md ? kBlockIn : kTemp1;
    add_pooling(plan, dnnl::algorithm::pooling_max, stem_md, pooled_md, {2, 2}, {3, 3}, {1, 1},
                kShortcut, pooled);
    if (pooled != kBlockIn) {
      add_reorder(plan, dnnl::reorder::primitive_desc(eng, pooled_md, eng, block_md), pooled,
                  kBlockIn);
    }
    dims = {dims[0], dims[1], ph, pw};

    // x lives in role `x`; the downsample writes role `d`, and the two swap after such a block.
    Role x = kBlockIn, d = kShortcut;
    for (auto& b : blocks) {
      auto t = dims;
      Role src = x;
      const Role temps[2] = {kTemp1, kTemp2};
      for (size_t i = 0; i + 1 < b.convs.size(); ++i) {
        t = add_conv(plan, b.convs[i], src, t, temps[i], true, false);
        src = temps[i];
      }
      Role out = x;
      if (b.downsample) {
        add_conv(plan, *b.downsample, x, dims, d, false, false);
        out = d;
      }
      dims = add_conv(plan, b.convs.back(), src, t, out, true, true);
      if (b.downsample) std::swap(x, d);
    }
    add_head(plan, x, dims);
    lay_out(plan, n, h, w);
    return plan;
  }

  // Global average pooling of role `x` [n, c, h, w] and the fc layer, as oneDNN primitives too:
  // an fp32 at::linear goes to OpenBLAS, whose own threads then spin for up to ~0.1 s on the
  // cores the next call's convolutions need (resnet50 batch 1: p90 latency 107 ms -> 35 ms).
  void add_head(Plan& plan, Role x, const std::array<int64_t, 4>& d) {
    add_pooling(plan, dnnl::algorithm::pooling_avg_exclude_padding,
                act_md(plan, d[0], d[1], d[2], d[3]), act_md(plan, d[0], d[1], 1, 1), {1, 1},
                {d[2], d[3]}, {0, 0}, x, kTemp1);
    // The fc reads the pooled [n, c, 1, 1] as a plain [n, c] matrix: with one pixel, nhwc and
    // nChw16c (c a multiple of 16, prefers_blocked_layout) hold the same bytes in that order.
    // Two dims, not four: oneDNN then runs the fc on brgemm instead of its gemm, whose first
    // call generates kernels for ~30 ms more (the first prediction waits for it) and whose bf16
    // fc took 0.137 against 0.078 ms at batch 8 (docs/perf-log.md).
    const memory::desc pooled({d[0], d[1]}, dt, tag::nc);
    const memory::desc w_any({fc.out_channels, fc.in_per_group}, dt, tag::any);
    const memory::desc logits({d[0], fc.out_channels}, dt, tag::nc);
    dnnl::inner_product_forward::desc ip(dnnl::prop_kind::forward_inference, pooled, w_any,
                                         fc.bias.get_desc(), logits);
    dnnl::inner_product_forward::primitive_desc ip_pd(ip, user_scratchpad(), eng);
    Step head;
    head.prim = dnnl::inner_product_forward(ip_pd);
    head.kernel = ip_pd.impl_info_str();
    memory src(pooled, eng, nullptr), dst(logits, eng, nullptr),
        scratch(ip_pd.scratchpad_desc(), eng, nullptr);
    head.args = {{DNNL_ARG_SRC, src},
                 {DNNL_ARG_WEIGHTS, fc.packed_for(ip_pd.weights_desc(), eng, strm)},
                 {DNNL_ARG_BIAS, fc.bias},
                 {DNNL_ARG_DST, dst},
                 {DNNL_ARG_SCRATCHPAD, scratch}};
    head.bindings = {{src, kTemp1, false}, {dst, kLogits, true}, {scratch, kScratch, true}};
    plan.steps.push_back(std::move(head));
    plan.logits_dims = {d[0], fc.out_channels};
  }

  Plan& plan_for(int64_t n, int64_t h, int64_t w) {
    for (auto it = plans.begin(); it != plans.end(); ++it) {
      if (it->key == std::array<int64_t, 3>{n, h, w}) {
        plans.splice(plans.begin(), plans, it);
        return plans.front();
      }
    }
    try {
      plans.push_front(make_plan(n, h, w));
    } catch (const dnnl::error& e) {
      throw Error(ErrorKind::kUnsupported,
                  std::string("fast path: oneDNN has no kernel for this model in ") +
                      c10::toString(dtype) + " on this CPU (" + e.what() +
                      "); run with --no-fast-path");
    }
    if (plans.size() > kMaxPlans) plans.pop_back();
    release_folded_weights();
    weights_to_move = true;
    Plan& plan = plans.front();
    const auto bytes = static_cast<int64_t>(plan.arena_bytes);
    if (!arena.defined() || arena.numel() < bytes) {
      arena = torch::Tensor();  // free first: the peak is one arena, not two
      arena = torch::empty({std::max<int64_t>(bytes, 1)}, torch::kUInt8);
    }
    return plan;
  }

  // One forward of the whole of x through its shape's plan: logits [N, classes], a new tensor.
  torch::Tensor run(const torch::Tensor& x) {
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    Plan& plan = plan_for(n, h, w);
    // NCHW (any dtype) -> the NHWC input buffer in the compute dtype, in one pass.
    view(plan.input_offset, {n, 3, h, w}).copy_(x);
    for (Step& step : plan.steps) {
      for (Binding& b : step.bindings) b.mem.set_data_handle(arena_at(b.offset));
      step.prim.execute(strm, step.args);
    }
    strm.wait();
    // The logits, copied out of the arena the next call reuses.
    return torch::from_blob(arena_at(plan.out_offset), {plan.logits_dims[0], plan.logits_dims[1]},
                            torch::TensorOptions().dtype(dtype))
        .clone();
  }

  void* arena_at(size_t offset) const { return static_cast<uint8_t*>(arena.data_ptr()) + offset; }

  // Moves the packed weights still on the heap into one new huge-page region (mapped_memory.h),
  // handing the heap pages back as they are copied, so that the peak memory grows by a few MB
  // at most. Called before a forward, never during the first one: faulting huge pages in is
  // the slow part, and the first prediction should not wait for it. Without the region (the
  // kernel refused it) the weights stay where they are.
  void move_weights_to_huge_pages() {
    weights_to_move = false;
    size_t bytes = fc.bytes_to_move();
    for_each_conv([&bytes](const ConvWeights& c) { bytes += c.bytes_to_move(); });
    if (bytes == 0) return;
    std::unique_ptr<MappedMemory> region = MappedMemory::huge_pages(bytes);
    if (!region) return;
    uint8_t* at = region->data();
    for_each_conv([&at](ConvWeights& c) { at = c.move_into(at); });
    fc.move_into(at);
    weight_regions.push_back(std::move(region));
  }

  // Drops each conv's fp32 OIHW weights where a packed copy can stand in for them (about the
  // model's size in memory).
  void release_folded_weights() {
    for_each_conv([](ConvWeights& c) { c.release_folded(); });
    fc.release_folded();
  }

  // Whether plans should try nChw16c activations: bottleneck networks without grouped
  // convolutions, every channel count after the stem a multiple of 16, on an AVX-512 CPU. There
  // oneDNN's jit 1x1 and Winograd kernels read that layout natively (no reorders around
  // Winograd): resnet50 fp32 ran 3-14% faster than in channels_last at batch 1 and 6-10% at 32,
  // bf16 0-5% at both (docs/perf-log.md). Measured otherwise: no gain for basic-block
  // networks (resnet18/34), and grouped 3x3 convolutions (ResNeXt) have only the reference
  // kernel there.
  bool prefers_blocked_layout() {
    if (dnnl::get_effective_cpu_isa() < dnnl::cpu_isa::avx512_core) return false;
    bool ok = true;
    for (const auto& b : blocks) {
      if (b.convs.size() != 3) ok = false;
    }
    bool first = true;  // the stem reads 3 channels
    for_each_conv([&](const ConvWeights& c) {
      if (c.folded.groups != 1 || c.out_channels % 16 != 0 ||
          (!first && c.in_per_group * c.folded.groups % 16 != 0)) {
        ok = false;
      }
      first = false;
    });
    return ok;
  }

  // Calls fn on every convolution's weights: the stem, then each block's convs and downsample.
  template <typename Fn>
  void for_each_conv(Fn fn) {
    fn(stem);
    for (auto& b : blocks) {
      for (auto& c : b.convs) fn(c);
      if (b.downsample) fn(*b.downsample);
    }
  }

  // A [n, c, h, w] channels_last tensor at `offset` in the arena.
  torch::Tensor view(size_t offset, const std::array<int64_t, 4>& d) const {
    return torch::from_blob(arena_at(offset), {d[0], d[1], d[2], d[3]},
                            {d[1] * d[2] * d[3], 1, d[3] * d[1], d[1]},
                            torch::TensorOptions().dtype(dtype));
  }
};

OneDnnResNet::OneDnnResNet(FoldedResNet folded, torch::ScalarType dtype, bool winograd,
                           int64_t max_batch)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  if (max_batch < 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "fast path: max_batch must be >= 0, got " + std::to_string(max_batch));
  }
  m.dtype = dtype;
  m.winograd = winograd;
  m.max_batch = max_batch;
  if (dtype == torch::kFloat32) {
    m.dt = memory::data_type::f32;
  } else if (dtype == torch::kBFloat16) {
    m.dt = memory::data_type::bf16;
  } else {
    throw Error(ErrorKind::kUnsupported,
                std::string("fast path: no oneDNN kernels for ") + c10::toString(dtype));
  }
  m.stem = ConvWeights::make(std::move(folded.stem), m.eng);
  for (auto& b : folded.blocks) {
    Impl::Block block;
    for (auto& c : b.convs) block.convs.push_back(ConvWeights::make(std::move(c), m.eng));
    if (b.downsample) {
      block.downsample =
          std::make_unique<ConvWeights>(ConvWeights::make(std::move(*b.downsample), m.eng));
    }
    m.blocks.push_back(std::move(block));
  }
  FoldedConv head;
  head.weight = folded.fc_weight.reshape({folded.fc_weight.size(0), folded.fc_weight.size(1), 1, 1})
                    .to(torch::kFloat32)
                    .contiguous();
  head.bias = folded.fc_bias.to(torch::kFloat32).contiguous();
  m.fc = ConvWeights::make(std::move(head), m.eng);
  m.prefer_blocked = m.prefers_blocked_layout();
}

OneDnnResNet::~OneDnnResNet() = default;

size_t OneDnnResNet::cached_plans() const { return impl_->plans.size(); }

std::vector<std::string> OneDnnResNet::last_plan_kernels() const {
  std::vector<std::string> kernels;
  if (impl_->plans.empty()) return kernels;
  for (const Step& step : impl_->plans.front().steps) kernels.push_back(step.kernel);
  return kernels;
}

bool OneDnnResNet::last_plan_blocked() const {
  return !impl_->plans.empty() && impl_->plans.front().blocked;
}

size_t OneDnnResNet::huge_page_weight_bytes() const {
  size_t bytes = 0;
  for (const auto& region : impl_->weight_regions) bytes += region->size();
  return bytes;
}

size_t OneDnnResNet::convs_holding_fp32_weights() const {
  size_t n = 0;
  impl_->for_each_conv([&n](const ConvWeights& c) { n += c.folded.weight.defined() ? 1 : 0; });
  return n;
}

torch::Tensor OneDnnResNet::forward(torch::Tensor x) {
  check_input(x);
  c10::InferenceMode guard;
  // This thread's OpenMP team size = at::get_num_threads(), set once per thread: LibTorch 1.13's
  // init_num_threads also recreates its pthreadpool, whose new worker then spins for
  // milliseconds on a core the convolutions need (8% of a resnet18 batch-8 call when this ran
  // on every call).
  at::internal::lazy_init_num_threads();
  Impl& m = *impl_;
  if (m.weights_to_move) m.move_weights_to_huge_pages();
  const int64_t n = x.size(0);
  if (m.max_batch == 0 || n <= m.max_batch) return m.run(x);
  // Consecutive slices of max_batch images (the last one shorter), each written into its rows.
  torch::Tensor logits;
  for (int64_t start = 0; start < n; start += m.max_batch) {
    const int64_t len = std::min(m.max_batch, n - start);
    torch::Tensor part = m.run(x.narrow(0, start, len));
    if (!logits.defined()) logits = torch::empty({n, part.size(1)}, part.options());
    logits.narrow(0, start, len).copy_(part);
  }
  return logits;
}

}  // namespace ptinfer::fastpath
