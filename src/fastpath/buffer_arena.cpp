#include "fastpath/buffer_arena.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <string>

#include "common/error.h"

namespace ptinfer::fastpath {
namespace {

struct Value {
  int first = 0, last = 0;
  size_t bytes = 0;
  size_t offset = 0;
  bool placed = false;
};

size_t round_up(size_t n, size_t alignment) { return (n + alignment - 1) & ~(alignment - 1); }

}  // namespace

ArenaLayout lay_out_buffers(const std::vector<BufferUse>& uses, size_t alignment) {
  std::vector<Value> values;
  std::vector<size_t> value_of(uses.size());
  std::map<int, size_t> current;  // role -> its current value
  for (size_t i = 0; i < uses.size(); ++i) {
    const BufferUse& u = uses[i];
    if (i > 0 && u.step < uses[i - 1].step) {
      throw Error(ErrorKind::kInternal, "buffer arena: steps out of order at use " + std::to_string(i));
    }
    auto it = current.find(u.role);
    if (u.starts || it == current.end()) {
      if (!u.starts) {
        throw Error(ErrorKind::kInternal, "buffer arena: role " + std::to_string(u.role) +
                                              " is read at step " + std::to_string(u.step) +
                                              " before anything wrote it");
      }
      values.push_back({u.step, u.step, round_up(std::max<size_t>(u.bytes, 1), alignment)});
      current[u.role] = values.size() - 1;
    }
    Value& v = values[current[u.role]];
    v.last = u.step;
    v.bytes = std::max(v.bytes, round_up(std::max<size_t>(u.bytes, 1), alignment));
    value_of[i] = current[u.role];
  }

  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a].bytes > values[b].bytes; });
  ArenaLayout layout;
  for (size_t idx : order) {
    Value& v = values[idx];
    // The placed values alive at the same time, by offset; take the first gap that fits.
    std::vector<const Value*> live;
    for (const Value& w : values) {
      if (w.placed && w.first <= v.last && v.first <= w.last) live.push_back(&w);
    }
    std::sort(live.begin(), live.end(),
              [](const Value* a, const Value* b) { return a->offset < b->offset; });
    size_t offset = 0;
    for (const Value* w : live) {
      if (offset + v.bytes <= w->offset) break;
      offset = std::max(offset, w->offset + w->bytes);
    }
    v.offset = offset;
    v.placed = true;
    layout.bytes = std::max(layout.bytes, offset + v.bytes);
  }
  layout.offsets.resize(uses.size());
  for (size_t i = 0; i < uses.size(); ++i) layout.offsets[i] = values[value_of[i]].offset;
  return layout;
}

}  // namespace ptinfer::fastpath
