// One convolution's weights for oneDNN primitives: the folded fp32 OIHW tensor, the bias, and a
// reordered copy per weights layout a primitive asked for. Internal to the oneDNN fast path.
//
// Memory: once a copy in a plain blocked layout exists, release_folded() drops the fp32 OIHW
// tensor (about the model's size for the whole network); a layout asked for later is reordered
// from that copy, which holds the same values (bf16 ones widen back to fp32 exactly). Winograd's
// layout cannot be read back, so a conv packed only for Winograd keeps its fp32 weights.
#pragma once

#include <cstdint>
#include <oneapi/dnnl/dnnl.hpp>
#include <utility>
#include <vector>

#include "fastpath/folded_resnet.h"

namespace ptinfer::fastpath {

struct ConvWeights {
  FoldedConv folded;
  dnnl::memory bias;  // over folded.bias
  std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> packed;
  int64_t out_channels = 0, in_per_group = 0, kernel = 0;  // the weight's shape, kept when dropped

  // Takes `c` (contiguous fp32 weight and bias on the CPU) for primitives on `eng`.
  static ConvWeights make(FoldedConv c, const dnnl::engine& eng);

  // The weights' logical dims: OIHW, or GOIHW with groups.
  dnnl::memory::dims dims() const;

  // The copy in layout `md` (any data type), reordered on first request and kept.
  // Throws Error(kInternal) if the fp32 weights were released and no blocked copy exists.
  dnnl::memory packed_for(const dnnl::memory::desc& md, const dnnl::engine& eng,
                          dnnl::stream& strm);

  // The weights as fp32 OIHW (GOIHW): the folded tensor while it is held, else a new copy
  // reordered back from a blocked packed copy.
  dnnl::memory plain(const dnnl::engine& eng, dnnl::stream& strm) const;

  // Drops folded.weight when a blocked packed copy can stand in for it; returns whether it is
  // dropped (now or before).
  bool release_folded();
};

}  // namespace ptinfer::fastpath
