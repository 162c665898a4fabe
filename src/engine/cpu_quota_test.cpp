#include "engine/cpu_quota.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ptinfer::engine {
namespace {

namespace fs = std::filesystem;

TEST(CpuQuota, CfsQuotaRoundsUpToWholeCores) {
  EXPECT_EQ(cores_of_cfs_quota("200000", "100000"), 2);
  EXPECT_EQ(cores_of_cfs_quota("150000", "100000"), 2);  // docker --cpus 1.5
  EXPECT_EQ(cores_of_cfs_quota("50000", "100000"), 1);   // Kubernetes limits.cpu: 500m
  EXPECT_EQ(cores_of_cfs_quota("1000", "100000"), 1);
  EXPECT_EQ(cores_of_cfs_quota(" 400000\n", "100000\n"), 4);
}

TEST(CpuQuota, NoLimitOrNonsenseIsNoQuota) {
  EXPECT_EQ(cores_of_cfs_quota("-1", "100000"), std::nullopt);  // cgroup v1: unlimited
  EXPECT_EQ(cores_of_cfs_quota("0", "100000"), std::nullopt);
  EXPECT_EQ(cores_of_cfs_quota("100000", "0"), std::nullopt);
  EXPECT_EQ(cores_of_cfs_quota("12x", "100000"), std::nullopt);
  EXPECT_EQ(cores_of_cfs_quota("99999999999999999999999", "100000"), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max("max 100000"), std::nullopt);      // cgroup v2: unlimited
  EXPECT_EQ(cores_of_cpu_max("300000 100000\n"), 3);
  EXPECT_EQ(cores_of_cpu_max("300000"), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max("300000 100000 7"), std::nullopt);
  EXPECT_EQ(cores_of_cpu_max(""), std::nullopt);
}

// A cgroup filesystem laid out under a temporary folder.
class CgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("ptinfer_cgroup_test_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void write(const fs::path& relative, const std::string& text) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << text;
  }
  fs::path root_;
};

TEST_F(CgroupTree, V2TakesTheSmallestLimitOnThePathAndItsAncestors) {
  write("kubepods/pod1/ctr/cpu.max", "max 100000\n");
  write("kubepods/pod1/cpu.max", "250000 100000\n");
  write("kubepods/cpu.max", "800000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota_cores("0::/kubepods/pod1/ctr\n", root_), 3);
  // No file limits: no quota.
  EXPECT_EQ(cgroup_cpu_quota_cores("0::/elsewhere\n", root_), std::nullopt);
}

TEST_F(CgroupTree, V2InsideANamespacedContainerReadsTheRoot) {
  write("cpu.max", "200000 100000\n");
  EXPECT_EQ(cgroup_cpu_quota_cores("0::/\n", root_), 2);
}

TEST_F(CgroupTree, V1ReadsTheCpuControllersFolder) {
  write("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "150000\n");
  write("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  const std::string cgroup =
      "12:memory:/docker/abc\n"
      "4:cpu,cpuacct:/docker/abc\n"
      "1:name=systemd:/docker/abc\n";
  EXPECT_EQ(cgroup_cpu_quota_cores(cgroup, root_), 2);
  // An unlimited v1 group (this machine's own layout: quota -1 at the root).
  write("cpu/cpu.cfs_quota_us", "-1\n");
  write("cpu/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(cgroup_cpu_quota_cores("1:cpu:/\n0::/\n", root_), std::nullopt);
}

TEST_F(CgroupTree, MalformedLinesAndMissingFilesAreSkipped) {
  write("cpu.max", "garbage\n");
  EXPECT_EQ(cgroup_cpu_quota_cores("no colons here\n0::/\n::\n", root_), std::nullopt);
  EXPECT_EQ(cgroup_cpu_quota_cores("", root_), std::nullopt);
}

}  // namespace
}  // namespace ptinfer::engine
