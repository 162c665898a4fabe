#include "tools/cuda_memory_stats.h"

#ifdef PTINFER_WITH_CUDA_STATS
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace ptinfer::tools {

#ifdef PTINFER_WITH_CUDA_STATS
void reset_cuda_peak(const torch::Device& device) {
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
}

std::optional<int64_t> cuda_peak_allocated_bytes(const torch::Device& device) {
  if (!device.is_cuda()) return std::nullopt;
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  return stats.allocated_bytes[0].peak;  // index 0: the aggregate over pool types
}
#else
void reset_cuda_peak(const torch::Device&) {}

std::optional<int64_t> cuda_peak_allocated_bytes(const torch::Device&) { return std::nullopt; }
#endif

}  // namespace ptinfer::tools
