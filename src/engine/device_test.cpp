#include "engine/device.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace ptinfer::engine {
namespace {

std::string error_of(const DeviceRequest& r, int accelerators, ErrorKind expected_kind) {
  try {
    resolve_device(r, accelerators);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), expected_kind) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(Device, DefaultsToCpuWithoutAcceleratorsAndCuda0WithThem) {
  EXPECT_EQ(resolve_device({}, 0), "cpu");
  EXPECT_EQ(resolve_device({}, 2), "cuda:0");
}

TEST(Device, FlagWinsOverNpuAndEnvironment) {
  EXPECT_EQ(resolve_device({"cpu", 1, 1}, 2), "cpu");
  EXPECT_EQ(resolve_device({"cuda:1", 0, 0}, 2), "cuda:1");
  EXPECT_EQ(resolve_device({"cuda", std::nullopt, 1}, 2), "cuda:0");
  EXPECT_EQ(resolve_device({"", 1, 0}, 2), "cuda:1");
  EXPECT_EQ(resolve_device({"", std::nullopt, 1}, 2), "cuda:1");
}

TEST(Device, GuideDefaultDeviceIdZeroMeansCpuWithoutAccelerators) {
  EXPECT_EQ(resolve_device({"", std::nullopt, 0}, 0), "cpu");
}

TEST(Device, MissingDevicesListTheOnesThatExist) {
  std::string m = error_of({"cuda:2", std::nullopt, std::nullopt}, 2, ErrorKind::kNotFound);
  EXPECT_NE(m.find("cuda:2 does not exist"), std::string::npos) << m;
  EXPECT_NE(m.find("available devices: cpu, cuda:0, cuda:1"), std::string::npos) << m;
  m = error_of({"", 0, std::nullopt}, 0, ErrorKind::kNotFound);
  EXPECT_NE(m.find("--npu 0"), std::string::npos) << m;
  EXPECT_NE(m.find("available devices: cpu"), std::string::npos) << m;
  m = error_of({"", std::nullopt, 3}, 1, ErrorKind::kNotFound);
  EXPECT_NE(m.find("PTINFER_DEVICE_ID=3"), std::string::npos) << m;
}

TEST(Device, MalformedFlagIsInvalid) {
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", "cuda:1:2"}) {
    std::string m = error_of({bad, std::nullopt, std::nullopt}, 1, ErrorKind::kInvalidArgument);
    EXPECT_NE(m.find(std::string("--device '") + bad + "'"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace ptinfer::engine
