#include "amp/policy.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace ptinfer::amp {
namespace {

template <typename F>
std::string error_of(F f, ErrorKind kind) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

TEST(Policy, ParsesOptLevelsBothCases) {
  EXPECT_EQ(parse_opt_level("O0"), OptLevel::kO0);
  EXPECT_EQ(parse_opt_level("O1"), OptLevel::kO1);
  EXPECT_EQ(parse_opt_level("o2"), OptLevel::kO2);
  EXPECT_EQ(parse_opt_level("O3"), OptLevel::kO3);
  EXPECT_EQ(to_string(OptLevel::kO2), "O2");
}

TEST(Policy, BadOptLevelNamesFlagAndAllowedValues) {
  std::string msg = error_of([] { parse_opt_level("O4"); }, ErrorKind::kInvalidArgument);
  EXPECT_NE(msg.find("--amp"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'O4'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("O0, O1, O2, O3"), std::string::npos) << msg;
  error_of([] { parse_opt_level(""); }, ErrorKind::kInvalidArgument);
}

TEST(Policy, ParsesDtypes) {
  EXPECT_EQ(parse_low_dtype("bf16"), LowDtype::kBFloat16);
  EXPECT_EQ(parse_low_dtype("BFloat16"), LowDtype::kBFloat16);
  EXPECT_EQ(parse_low_dtype("fp16"), LowDtype::kFloat16);
  EXPECT_EQ(parse_low_dtype("half"), LowDtype::kFloat16);
  EXPECT_EQ(scalar_type(LowDtype::kBFloat16), torch::kBFloat16);
  EXPECT_EQ(scalar_type(LowDtype::kFloat16), torch::kHalf);
  std::string msg = error_of([] { parse_low_dtype("fp8"); }, ErrorKind::kInvalidArgument);
  EXPECT_NE(msg.find("--amp-dtype"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bf16, fp16"), std::string::npos) << msg;
}

TEST(Policy, DefaultIsO0Bf16) {
  Policy p;
  EXPECT_EQ(p.level, OptLevel::kO0);
  EXPECT_EQ(p.dtype, LowDtype::kBFloat16);
}

TEST(Policy, Fp16OnCpuIsUnsupportedExceptForO0) {
  torch::Device cpu("cpu");
  for (OptLevel level : {OptLevel::kO1, OptLevel::kO2, OptLevel::kO3}) {
    std::string msg = error_of(
        [&] {
          check_supported({level, LowDtype::kFloat16}, cpu);
        },
        ErrorKind::kUnsupported);
    EXPECT_NE(msg.find("fp16"), std::string::npos) << msg;
    EXPECT_NE(msg.find("bf16"), std::string::npos) << msg;
    EXPECT_NO_THROW(check_supported({level, LowDtype::kBFloat16}, cpu));
  }
  EXPECT_NO_THROW(check_supported({OptLevel::kO0, LowDtype::kFloat16}, cpu));
  EXPECT_NO_THROW(check_supported({OptLevel::kO2, LowDtype::kFloat16}, torch::Device("cuda:0")));
}

}  // namespace
}  // namespace ptinfer::amp
