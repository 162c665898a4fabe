// Process-wide CPU settings measured to matter (docs/performance.md): the intra-op thread count
// (this LibTorch defaults to 1), glibc malloc's habit of returning large activation buffers to
// the kernel on every forward, and which BLAS library LibTorch's fp32 linear layers call.
#pragma once

#include <optional>
#include <string>

namespace ptinfer::engine {

// Cores this process may run on, at least 1: the CPUs in OpenMP's places where OMP_PLACES or
// OMP_PROC_BIND set them (libgomp has then already bound this thread to one place), else the
// process's affinity mask (sched_getaffinity: taskset, cpusets); fewer when the process's
// cgroup has a CPU quota below that count (cpu_quota.h: a container's CPU limit), the quota
// rounded up to whole cores.
int usable_cores();

// Sets LibTorch's intra-op threads to `requested` or, when unset, usable_cores(). Returns the
// count set.
int configure_threads(std::optional<int> requested);

// Keeps glibc malloc from serving large blocks with mmap (equivalent to
// GLIBC_TUNABLES=glibc.malloc.mmap_max=0), so activation buffers are reused between batches
// instead of being unmapped and page-faulted in again. Call once at start, before threads.
void tune_malloc();

// Hands the free pages inside malloc's heap back to the kernel (malloc_trim(0)). With
// tune_malloc's settings freed blocks stay resident; after loading (the checkpoint's tensors and
// the eager module freed once the fast path holds the weights) that is hundreds of MB that
// later allocations may not fit in. Called once a model is built, not per batch.
void release_free_memory();

// File name of the BLAS library loaded into the process ("libopenblas..."), or "" when none is
// loaded yet.
std::string loaded_blas_library();

}  // namespace ptinfer::engine
