// lay_out_buffers: values alive at the same step never share bytes, dead ones are reused, and
// misuse is an internal error.
#include "fastpath/buffer_arena.h"

#include <gtest/gtest.h>

#include <random>

#include "common/error.h"

namespace ptinfer::fastpath {
namespace {

// Checks the layout against the uses: every value's bytes are inside the arena, and two values
// alive at a common step do not overlap. Returns the number of values.
size_t check_layout(const std::vector<BufferUse>& uses, const ArenaLayout& layout, size_t align) {
  struct V {
    int first, last;
    size_t offset, bytes;
  };
  std::vector<V> values;
  std::vector<int> current(64, -1);
  EXPECT_EQ(layout.offsets.size(), uses.size());
  for (size_t i = 0; i < uses.size(); ++i) {
    const BufferUse& u = uses[i];
    EXPECT_EQ(layout.offsets[i] % align, 0u);
    if (u.starts) {
      values.push_back({u.step, u.step, layout.offsets[i], u.bytes});
      current[u.role] = static_cast<int>(values.size()) - 1;
    }
    V& v = values[current[u.role]];
    EXPECT_EQ(v.offset, layout.offsets[i]) << "a value moved between its uses, use " << i;
    v.last = u.step;
    v.bytes = std::max(v.bytes, u.bytes);
  }
  for (size_t a = 0; a < values.size(); ++a) {
    EXPECT_LE(values[a].offset + values[a].bytes, layout.bytes);
    for (size_t b = a + 1; b < values.size(); ++b) {
      const V &x = values[a], &y = values[b];
      const bool same_time = x.first <= y.last && y.first <= x.last;
      const bool same_bytes = x.offset < y.offset + y.bytes && y.offset < x.offset + x.bytes;
      EXPECT_FALSE(same_time && same_bytes) << "values " << a << " and " << b << " collide";
    }
  }
  return values.size();
}

TEST(BufferArena, AChainReusesDeadBuffers) {
  // input -> a -> b -> c -> d, each step reading the previous value and writing a new role:
  // at most two values are alive at once, so the arena is two buffers, not five.
  std::vector<BufferUse> uses = {{-1, 0, true, 1000}};
  for (int step = 0; step < 4; ++step) {
    uses.push_back({step, step, false, 1000});
    uses.push_back({step, step + 1, true, 1000});
  }
  const ArenaLayout layout = lay_out_buffers(uses, 64);
  EXPECT_EQ(check_layout(uses, layout, 64), 5u);
  EXPECT_EQ(layout.bytes, 2 * 1024u);
}

TEST(BufferArena, ReadWriteContinuesAValueAndRestartingARoleFreesIt) {
  std::vector<BufferUse> uses = {
      {0, 0, true, 4096},   // x
      {1, 1, true, 100},    // temp, read with x alive
      {1, 0, false, 4096},  // x read
      {2, 0, false, 4096},  // x accumulated into (read and written): still the same value
      {2, 1, false, 100},
      {3, 1, true, 8192},   // role 1 restarts: a new, larger value; x is dead after step 2
  };
  const ArenaLayout layout = lay_out_buffers(uses, 64);
  EXPECT_EQ(check_layout(uses, layout, 64), 3u);
  EXPECT_EQ(layout.offsets[2], layout.offsets[3]);
  EXPECT_EQ(layout.bytes, 8192u) << "the step-3 value reuses the bytes of both dead ones";
}

TEST(BufferArena, RandomPlansNeverCollide) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<BufferUse> uses;
    std::vector<bool> written(6, false);
    for (int step = 0; step < 30; ++step) {
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < n; ++k) {
        const int role = static_cast<int>(rng() % 6);
        const bool starts = !written[role] || rng() % 2 == 0;
        written[role] = true;
        uses.push_back({step, role, starts, 1 + rng() % 5000});
      }
    }
    check_layout(uses, lay_out_buffers(uses, 256), 256);
  }
}

TEST(BufferArena, MisuseIsAnInternalError) {
  try {
    lay_out_buffers({{0, 3, false, 10}});
    FAIL() << "a read of a never-written role was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInternal);
    EXPECT_NE(std::string(e.what()).find("role 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(lay_out_buffers({{2, 0, true, 10}, {1, 0, false, 10}}), Error);
}

}  // namespace
}  // namespace ptinfer::fastpath
