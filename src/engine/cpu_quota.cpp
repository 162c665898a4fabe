#include "engine/cpu_quota.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

namespace ptinfer::engine {
namespace {

namespace fs = std::filesystem;

// A positive decimal integer that fits in int64, or nullopt.
std::optional<int64_t> positive_integer(const std::string& text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value <= 0) return std::nullopt;
  return value;
}

std::string trimmed(std::string text) {
  const auto not_space = [](unsigned char c) { return !std::isspace(c); };
  text.erase(text.begin(), std::find_if(text.begin(), text.end(), not_space));
  text.erase(std::find_if(text.rbegin(), text.rend(), not_space).base(), text.end());
  return text;
}

// The file's first line, trimmed; nullopt when it cannot be read.
std::optional<std::string> first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return trimmed(line);
}

void keep_smaller(std::optional<int>& best, std::optional<int> candidate) {
  if (candidate && (!best || *candidate < *best)) best = candidate;
}

// `dir` and each folder above it up to `root`, deepest first, `root` last.
std::vector<fs::path> up_to(const fs::path& root, const std::string& cgroup_path) {
  std::vector<fs::path> dirs;
  fs::path relative = fs::path(cgroup_path).relative_path();
  while (!relative.empty()) {
    dirs.push_back(root / relative);
    relative = relative.parent_path();
  }
  dirs.push_back(root);
  return dirs;
}

}  // namespace

std::optional<int> cores_of_cfs_quota(const std::string& quota, const std::string& period) {
  const std::optional<int64_t> q = positive_integer(trimmed(quota));
  const std::optional<int64_t> p = positive_integer(trimmed(period));
  if (!q || !p) return std::nullopt;
  const int64_t cores = (*q + *p - 1) / *p;
  return static_cast<int>(std::clamp<int64_t>(cores, 1, 1 << 20));
}

std::optional<int> cores_of_cpu_max(const std::string& cpu_max) {
  std::istringstream in(cpu_max);
  std::string quota, period, rest;
  if (!(in >> quota >> period) || (in >> rest)) return std::nullopt;
  return cores_of_cfs_quota(quota, period);
}

std::optional<int> cgroup_cpu_quota_cores(const std::string& proc_self_cgroup,
                                          const fs::path& cgroup_root) {
  std::optional<int> cores;
  std::istringstream lines(proc_self_cgroup);
  std::string line;
  while (std::getline(lines, line)) {
    // "ID:CONTROLLERS:PATH"; the path may itself hold ':'.
    const size_t first = line.find(':');
    const size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string id = line.substr(0, first);
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    if (id == "0" && controllers.empty()) {  // cgroup v2
      for (const fs::path& dir : up_to(cgroup_root, path)) {
        if (auto text = first_line(dir / "cpu.max")) keep_smaller(cores, cores_of_cpu_max(*text));
      }
      continue;
    }
    std::vector<std::string> names;
    std::istringstream list(controllers);
    for (std::string name; std::getline(list, name, ',');) names.push_back(name);
    if (std::find(names.begin(), names.end(), "cpu") == names.end()) continue;
    std::vector<std::string> mounts{"cpu"};  // v1: "cpu", a link to "cpu,cpuacct" where joined
    if (controllers != "cpu") mounts.push_back(controllers);
    for (const std::string& mount : mounts) {
      for (const fs::path& dir : up_to(cgroup_root / mount, path)) {
        const auto quota = first_line(dir / "cpu.cfs_quota_us");
        const auto period = first_line(dir / "cpu.cfs_period_us");
        if (quota && period) keep_smaller(cores, cores_of_cfs_quota(*quota, *period));
      }
    }
  }
  return cores;
}

std::optional<int> cgroup_cpu_quota_cores() {
  std::ifstream in("/proc/self/cgroup");
  if (!in) return std::nullopt;
  std::ostringstream contents;
  contents << in.rdbuf();
  return cgroup_cpu_quota_cores(contents.str(), "/sys/fs/cgroup");
}

}  // namespace ptinfer::engine
