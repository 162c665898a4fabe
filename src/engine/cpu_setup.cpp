#include "engine/cpu_setup.h"

#include <link.h>
#include <malloc.h>
#include <omp.h>
#include <sched.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <vector>

#include "engine/cpu_quota.h"

namespace ptinfer::engine {

namespace {

// The CPUs of OpenMP's places, else of the affinity mask, else 1.
int cores_allowed_to_run_on() {
  // With OMP_PROC_BIND or OMP_PLACES set, libgomp binds this process's initial thread to its
  // first place while loading, before main: sched_getaffinity then sees that place alone (one
  // CPU; measured: resnet50 at batch 1 ran on 1 thread at half speed). The places themselves are
  // built from the CPUs the process started with.
  if (const int places = omp_get_num_places(); places > 0) {
    std::set<int> cpus;
    for (int p = 0; p < places; ++p) {
      std::vector<int> ids(static_cast<size_t>(std::max(omp_get_place_num_procs(p), 0)));
      omp_get_place_proc_ids(p, ids.data());
      cpus.insert(ids.begin(), ids.end());
    }
    if (!cpus.empty()) return static_cast<int>(cpus.size());
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return 1;
}

}  // namespace

int usable_cores() {
  const int cpus = cores_allowed_to_run_on();
  static const std::optional<int> quota = cgroup_cpu_quota_cores();  // fixed for the process
  return quota ? std::min(cpus, *quota) : cpus;
}

int configure_threads(std::optional<int> requested) {
  int n = requested.value_or(usable_cores());
  // A thread's first parallel op runs at::init_num_threads, which in LibTorch 1.13 recreates the
  // process-wide pthreadpool when a count is set, and the new pool's worker spins for tens of
  // milliseconds on a core that loading needs. Marking this thread initialised while no count
  // is set yet creates nothing, so the pool is made once, here.
  at::internal::lazy_init_num_threads();
  torch::set_num_threads(n);
  return n;
}

void tune_malloc() {
  // M_MMAP_MAX = 0: never mmap; large frees go back to the heap and are reused. Measured on
  // ResNet-50 batch 32: 45% of CPU time was page faults without it (design.md).
  mallopt(M_MMAP_MAX, 0);
  // Keep freed memory at the top of the heap instead of trimming it after every batch.
  mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
}

void release_free_memory() { malloc_trim(0); }

std::string loaded_blas_library() {
  std::string found;
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) {
        std::string name = info->dlpi_name ? info->dlpi_name : "";
        if (name.find("blas") != std::string::npos) {
          // libblas.so.3 is an alternatives link: report the library it resolves to.
          std::error_code ec;
          auto real = std::filesystem::canonical(name, ec);
          *static_cast<std::string*>(data) = ec ? name : real.string();
          return 1;
        }
        return 0;
      },
      &found);
  return found;
}

}  // namespace ptinfer::engine
