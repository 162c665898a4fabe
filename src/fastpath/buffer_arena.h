// Packs a network's activation buffers into one arena by lifetime: two values share memory only
// when no step uses both. Internal to the fast path's plans (onednn_resnet.cpp), plain C++ so it
// can be tested alone.
//
// A plan is a list of steps; each step uses buffers named by a small integer (a "role": input,
// shortcut, temp, scratch, ...). A use that `starts` a value (a pure write: the old contents are
// dead) begins a new value of that role; any other use (a read, or a read-and-write such as a
// convolution's residual-sum destination) continues the role's current value. A value lives from
// its first use to its last, both steps included, and needs the largest size any of its uses
// asks for.
#pragma once

#include <cstddef>
#include <vector>

namespace ptinfer::fastpath {

struct BufferUse {
  int step = 0;       // non-decreasing along the list; -1 (before the first step) is allowed
  int role = 0;       // >= 0
  bool starts = false;
  size_t bytes = 0;
};

struct ArenaLayout {
  std::vector<size_t> offsets;  // per use, the byte offset of its value in the arena
  size_t bytes = 0;             // the arena's size
};

// Offsets are multiples of `alignment` (a power of two). Values are placed largest first, each
// at the lowest offset that overlaps no value alive at the same time (first fit). Throws
// Error(kInternal) when a use continues a role with no current value or steps go backwards.
ArenaLayout lay_out_buffers(const std::vector<BufferUse>& uses, size_t alignment = 64);

}  // namespace ptinfer::fastpath
