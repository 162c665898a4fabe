// One convolution's weights for oneDNN primitives: the folded fp32 OIHW tensor, the bias, and a
// reordered copy per weights layout a primitive asked for. Internal to the oneDNN fast path.
//
// Memory: once a copy in a plain blocked layout exists, release_folded() drops the fp32 OIHW
// tensor (about the model's size for the whole network); a layout asked for later is reordered
// from that copy, which holds the same values (bf16 ones widen back to fp32 exactly). Winograd's
// layout cannot be read back, so a conv packed only for Winograd keeps its fp32 weights.
//
// Each packed copy starts on the heap and can later be moved into memory the caller owns
// (move_into: OneDnnResNet's huge-page region); primitives holding the copy's dnnl::memory see
// the new address, as it is the same memory object.
#pragma once

#include <cstdint>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "fastpath/folded_resnet.h"
#include "fastpath/mapped_memory.h"

namespace ptinfer::fastpath {

struct FreeWithStdFree {
  void operator()(uint8_t* p) const;
};

// One packed copy of a convolution's weights in layout `desc`.
struct PackedWeights {
  dnnl::memory::desc desc;
  dnnl::memory mem;                              // over `heap`, or the caller's memory once moved
  std::unique_ptr<uint8_t, FreeWithStdFree> heap;  // null once moved (move_into)
};

struct ConvWeights {
  // Where move_into places each copy: a multiple of this many bytes from the start.
  static constexpr size_t kMoveAlignment = 64;

  FoldedConv folded;
  dnnl::memory bias;  // over folded.bias
  std::vector<PackedWeights> packed;
  int64_t out_channels = 0, in_per_group = 0, kernel = 0;  // the weight's shape, kept when dropped

  // Takes `c` (contiguous fp32 weight and bias on the CPU) for primitives on `eng`.
  static ConvWeights make(FoldedConv c, const dnnl::engine& eng);

  // The weights' logical dims: OIHW, or GOIHW with groups.
  dnnl::memory::dims dims() const;

  // The copy in layout `md` (any data type), reordered on first request and kept. `md` may give
  // the same elements fewer dims: an fc's [O, I] for OIHW [O, I, 1, 1].
  // Throws Error(kInternal) if the fp32 weights were released and no blocked copy exists, and
  // Error(kUnsupported) when there is no memory for a new copy.
  dnnl::memory packed_for(const dnnl::memory::desc& md, const dnnl::engine& eng,
                          dnnl::stream& strm);

  // The weights as fp32 OIHW (GOIHW): the folded tensor while it is held, else a new copy
  // reordered back from a blocked packed copy.
  dnnl::memory plain(const dnnl::engine& eng, dnnl::stream& strm) const;

  // Bytes move_into needs for the copies still on the heap (each rounded up to kMoveAlignment);
  // 0 when there are none.
  size_t bytes_to_move() const;

  // Copies each packed copy still on the heap to `at` (kMoveAlignment-aligned, with
  // bytes_to_move() bytes that outlive this object), one after another, points its memory
  // there and frees the heap copy, whose pages go back to the kernel as they are copied
  // (copy_releasing_source); returns the end of what it wrote.
  uint8_t* move_into(uint8_t* at);

  // Drops folded.weight when a blocked packed copy can stand in for it; returns whether it is
  // dropped (now or before).
  bool release_folded();
};

}  // namespace ptinfer::fastpath
