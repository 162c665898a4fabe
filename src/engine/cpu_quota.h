// The CPU quota of the process's control group (cgroup v2's cpu.max, v1's cpu.cfs_quota_us and
// cpu.cfs_period_us), in cores: what a container's CPU limit (docker --cpus, a Kubernetes
// resources.limits.cpu) allows. usable_cores (cpu_setup.h) takes the smaller of it and the
// affinity mask, so that a pod limited to 2 CPUs on a 64-core node does not start 64 threads
// and spend its quota in throttled periods.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace ptinfer::engine {

// Cores a CFS quota of `quota` microseconds per `period` allows: ceil(quota / period), at
// least 1, as Go's and the JVM's runtimes round it. nullopt for no limit (cgroup v2's "max",
// v1's negative quota) or a value that is not a positive integer.
std::optional<int> cores_of_cfs_quota(const std::string& quota, const std::string& period);

// The same from the contents of a cgroup v2 cpu.max file ("QUOTA PERIOD" or "max PERIOD").
std::optional<int> cores_of_cpu_max(const std::string& cpu_max);

// The smallest quota in cores on the process's cgroup and its ancestors, `proc_self_cgroup`
// being the contents of /proc/self/cgroup and `cgroup_root` where the cgroup filesystem is
// mounted (/sys/fs/cgroup): v2 (the "0::PATH" line) reads ROOT/PATH/.../cpu.max, v1 (the line
// whose controllers include "cpu") ROOT/cpu/PATH/... (or ROOT/cpu,cpuacct/...). Inside a
// container whose cgroup namespace hides the path, ROOT's own files are the container's and
// are read too. Files that are missing or unreadable are skipped: nullopt when none limits.
std::optional<int> cgroup_cpu_quota_cores(const std::string& proc_self_cgroup,
                                          const std::filesystem::path& cgroup_root);

// This process's: cgroup_cpu_quota_cores of /proc/self/cgroup and /sys/fs/cgroup.
std::optional<int> cgroup_cpu_quota_cores();

}  // namespace ptinfer::engine
