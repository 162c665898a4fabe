// Which device a run uses: --device cpu|cuda[:N], the guide's --npu N (accelerator N) and
// PTINFER_DEVICE_ID. No LibTorch in this header: resolution is plain logic, tested without GPUs.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ptinfer::engine {

struct DeviceRequest {
  std::string device_flag;           // --device value, "" when not given
  std::optional<int> npu;            // --npu N, the guide's accelerator index
  std::optional<int> env_device_id;  // PTINFER_DEVICE_ID / ASCEND_DEVICE_ID
};

// Devices that exist given `accelerators` CUDA devices: "cpu", "cuda:0", ...
std::vector<std::string> available_devices(int accelerators);

// The device to use, as "cpu" or "cuda:N". Precedence: --device, then --npu, then
// PTINFER_DEVICE_ID (an accelerator index), else cuda:0 when an accelerator exists, else cpu.
// With no accelerator, PTINFER_DEVICE_ID=0 (the guide's default) means the CPU.
// Throws Error(kInvalidArgument) for a malformed --device and Error(kNotFound) for a device that
// does not exist; both list the available devices.
std::string resolve_device(const DeviceRequest& request, int accelerators);

// resolve_device with the number of CUDA devices LibTorch sees.
std::string resolve_device(const DeviceRequest& request);

}  // namespace ptinfer::engine
