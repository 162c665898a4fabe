// Time per node kind across the graphs the general fast path runs (GraphRunner), for
// `ptinfer bench --profile`. Process-wide: while profiling is on, every GraphRunner::run times
// each node and adds it here. Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ptinfer::fastpath::graph {

struct NodeTime {
  std::string kind;  // "aten::max_pool2d", or "onednn::convolution (brg:avx512_core)" for a
                     // kernel of ours with the implementation that ran it
  int64_t calls = 0;
  double seconds = 0;
};

// Turns the timing on or off (off by default; on, each node costs a clock read more).
void set_profiling(bool on);
bool profiling();

// Adds one call of `kind` taking `seconds` (GraphRunner calls it while profiling).
void record_node_time(const std::string& kind, double seconds);

// The times recorded since the last reset, the slowest kind first.
std::vector<NodeTime> node_times();
void reset_node_times();

}  // namespace ptinfer::fastpath::graph
