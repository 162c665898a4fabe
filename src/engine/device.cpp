#include "engine/device.h"

#include <torch/cuda.h>

#include "common/error.h"

namespace ptinfer::engine {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::string accelerator(int index, int accelerators, const std::string& what) {
  if (index < 0 || index >= accelerators) {
    throw Error(ErrorKind::kNotFound,
                what + ": device cuda:" + std::to_string(index) +
                    " does not exist; available devices: " + join(available_devices(accelerators)));
  }
  return "cuda:" + std::to_string(index);
}

}  // namespace

std::vector<std::string> available_devices(int accelerators) {
  std::vector<std::string> out{"cpu"};
  for (int i = 0; i < accelerators; ++i) out.push_back("cuda:" + std::to_string(i));
  return out;
}

std::string resolve_device(const DeviceRequest& request, int accelerators) {
  const std::string& flag = request.device_flag;
  if (!flag.empty()) {
    if (flag == "cpu") return "cpu";
    if (flag == "cuda") return accelerator(0, accelerators, "--device cuda");
    if (flag.rfind("cuda:", 0) == 0) {
      std::string digits = flag.substr(5);
      bool ok = !digits.empty() && digits.size() <= 6 &&
                digits.find_first_not_of("0123456789") == std::string::npos;
      if (ok) return accelerator(std::stoi(digits), accelerators, "--device " + flag);
    }
    throw Error(ErrorKind::kInvalidArgument, "--device '" + flag +
                                                 "' is invalid: expected cpu, cuda or cuda:N; "
                                                 "available devices: " +
                                                 join(available_devices(accelerators)));
  }
  if (request.npu)
    return accelerator(*request.npu, accelerators, "--npu " + std::to_string(*request.npu));
  if (request.env_device_id) {
    if (accelerators == 0 && *request.env_device_id == 0) return "cpu";
    return accelerator(*request.env_device_id, accelerators,
                       "PTINFER_DEVICE_ID=" + std::to_string(*request.env_device_id));
  }
  return accelerators > 0 ? "cuda:0" : "cpu";
}

std::string resolve_device(const DeviceRequest& request) {
  return resolve_device(request, static_cast<int>(torch::cuda::device_count()));
}

}  // namespace ptinfer::engine
