// Peak device memory for amp_device_check's bench, from LibTorch's CUDA caching allocator. Built
// with PTINFER_WITH_CUDA_STATS (a CUDA LibTorch and the CUDA headers) it reads the allocator's
// statistics; otherwise, and for non-CUDA devices, there is nothing to read.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <optional>

namespace ptinfer::tools {

// Resets the allocator's peak counters of `device` (no-op unless CUDA statistics are built in).
void reset_cuda_peak(const torch::Device& device);

// The most bytes the allocator had handed out on `device` since the last reset; nullopt when
// `device` is not CUDA or the statistics are not built in.
std::optional<int64_t> cuda_peak_allocated_bytes(const torch::Device& device);

}  // namespace ptinfer::tools
