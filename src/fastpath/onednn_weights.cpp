#include "fastpath/onednn_weights.h"

#include <cstdlib>
#include <string>

#include "common/error.h"

namespace ptinfer::fastpath {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

// Layouts a reorder can read back: plain and blocked ones, not Winograd's.
bool readable(const memory::desc& md) { return md.data.format_kind == dnnl_blocked; }

size_t aligned_size(const memory::desc& md) {
  const size_t a = ConvWeights::kMoveAlignment;
  return (md.get_size() + a - 1) / a * a;
}

}  // namespace

void FreeWithStdFree::operator()(uint8_t* p) const { std::free(p); }

ConvWeights ConvWeights::make(FoldedConv c, const dnnl::engine& eng) {
  ConvWeights w;
  w.folded = std::move(c);
  w.out_channels = w.folded.out_channels();
  w.in_per_group = w.folded.weight.size(1);
  w.kernel = w.folded.kernel();
  w.bias =
      memory({{w.out_channels}, memory::data_type::f32, tag::x}, eng, w.folded.bias.data_ptr());
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
    if (entry.desc == md) return entry.mem;
  }
  memory plain_weights = plain(eng, strm);  // owns the buffer when read back
  // The same elements under md's dims (an fc's [O, I] for OIHW [O, I, 1, 1]).
  memory user = plain_weights.get_desc().dims() == md.dims()
                    ? plain_weights
                    : memory(plain_weights.get_desc().reshape(md.dims()), eng,
                             plain_weights.get_data_handle());
  std::unique_ptr<uint8_t, FreeWithStdFree> heap(
      static_cast<uint8_t*>(std::aligned_alloc(kMoveAlignment, aligned_size(md))));
  if (!heap) {
    throw Error(
        ErrorKind::kUnsupported,
        "fast path: no memory for " + std::to_string(md.get_size()) + " bytes of packed weights");
  }
  memory weights(md, eng, heap.get());
  dnnl::reorder(user, weights).execute(strm, user, weights);
  strm.wait();
  packed.push_back({md, weights, std::move(heap)});
  return weights;
}

size_t ConvWeights::bytes_to_move() const {
  size_t bytes = 0;
  for (const auto& entry : packed) {
    if (entry.heap) bytes += aligned_size(entry.desc);
  }
  return bytes;
}

uint8_t* ConvWeights::move_into(uint8_t* at) {
  for (auto& entry : packed) {
    if (!entry.heap) continue;
    copy_releasing_source(at, entry.heap.get(), entry.desc.get_size());
    entry.mem.set_data_handle(at);
    entry.heap.reset();
    at += aligned_size(entry.desc);
  }
  return at;
}

memory ConvWeights::plain(const dnnl::engine& eng, dnnl::stream& strm) const {
  const memory::desc md(dims(), memory::data_type::f32,
                        folded.groups == 1 ? tag::oihw : tag::goihw);
  if (folded.weight.defined()) return memory(md, eng, folded.weight.data_ptr());
  for (const auto& entry : packed) {
    if (!readable(entry.desc)) continue;
    memory src = entry.mem, out(md, eng);
    // A copy under other dims (an fc's [O, I]) is read into the same elements of `out`.
    memory view = entry.desc.dims() == md.dims()
                      ? out
                      : memory(md.reshape(entry.desc.dims()), eng, out.get_data_handle());
    dnnl::reorder(src, view).execute(strm, src, view);
    strm.wait();
    return out;
  }
  throw Error(ErrorKind::kInternal,
              "fast path: a convolution's weights were released with no copy to read them from");
}

bool ConvWeights::release_folded() {
  if (!folded.weight.defined()) return true;
  for (const auto& entry : packed) {
    if (readable(entry.desc)) {
      folded.weight = torch::Tensor();
      return true;
    }
  }
  return false;
}

}  // namespace ptinfer::fastpath
