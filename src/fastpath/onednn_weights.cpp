#include "fastpath/onednn_weights.h"

#include "common/error.h"

namespace ptinfer::fastpath {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

// Layouts a reorder can read back: plain and blocked ones, not Winograd's.
bool readable(const memory::desc& md) { return md.data.format_kind == dnnl_blocked; }

}  // namespace

ConvWeights ConvWeights::make(FoldedConv c, const dnnl::engine& eng) {
  ConvWeights w;
  w.folded = std::move(c);
  w.out_channels = w.folded.out_channels();
  w.in_per_group = w.folded.weight.size(1);
  w.kernel = w.folded.kernel();
  w.bias = memory({{w.out_channels}, memory::data_type::f32, tag::x}, eng,
                  w.folded.bias.data_ptr());
  return w;
}

memory::dims ConvWeights::dims() const {
  const int64_t g = folded.groups;
  return g == 1 ? memory::dims{out_channels, in_per_group, kernel, kernel}
                : memory::dims{g, out_channels / g, in_per_group, kernel, kernel};
}

memory ConvWeights::packed_for(const memory::desc& md, const dnnl::engine& eng,
                               dnnl::stream& strm) {
  for (const auto& entry : packed) {
    if (entry.first == md) return entry.second;
  }
  memory user = plain(eng, strm);
  memory weights(md, eng);
  dnnl::reorder(user, weights).execute(strm, user, weights);
  strm.wait();
  packed.emplace_back(md, weights);
  return weights;
}

memory ConvWeights::plain(const dnnl::engine& eng, dnnl::stream& strm) const {
  const memory::desc md(dims(), memory::data_type::f32, folded.groups == 1 ? tag::oihw : tag::goihw);
  if (folded.weight.defined()) return memory(md, eng, folded.weight.data_ptr());
  for (const auto& entry : packed) {
    if (!readable(entry.first)) continue;
    memory src = entry.second, out(md, eng);
    dnnl::reorder(src, out).execute(strm, src, out);
    strm.wait();
    return out;
  }
  throw Error(ErrorKind::kInternal,
              "fast path: a convolution's weights were released with no copy to read them from");
}

bool ConvWeights::release_folded() {
  if (!folded.weight.defined()) return true;
  for (const auto& entry : packed) {
    if (readable(entry.first)) {
      folded.weight = torch::Tensor();
      return true;
    }
  }
  return false;
}

}  // namespace ptinfer::fastpath
