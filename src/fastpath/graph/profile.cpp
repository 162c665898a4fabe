#include "fastpath/graph/profile.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>

namespace ptinfer::fastpath::graph {
namespace {

std::atomic<bool> enabled{false};
std::mutex mutex;
std::map<std::string, NodeTime>& table() {
  static std::map<std::string, NodeTime> times;
  return times;
}

}  // namespace

void set_profiling(bool on) { enabled = on; }
bool profiling() { return enabled.load(std::memory_order_relaxed); }

void record_node_time(const std::string& kind, double seconds) {
  std::lock_guard<std::mutex> lock(mutex);
  NodeTime& t = table()[kind];
  t.kind = kind;
  ++t.calls;
  t.seconds += seconds;
}

std::vector<NodeTime> node_times() {
  std::vector<NodeTime> times;
  {
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& [kind, t] : table()) times.push_back(t);
  }
  std::sort(times.begin(), times.end(),
            [](const NodeTime& a, const NodeTime& b) { return a.seconds > b.seconds; });
  return times;
}

void reset_node_times() {
  std::lock_guard<std::mutex> lock(mutex);
  table().clear();
}

}  // namespace ptinfer::fastpath::graph
