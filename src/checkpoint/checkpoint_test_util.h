// Helpers shared by the checkpoint tests: where the fixtures are, the manifest the fixture
// script wrote (what torch.load read back), and tensor comparison against it.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"

namespace ptinfer::checkpoint::testing {

inline std::string fixture_path(const std::string& name) {
  const char* dir = std::getenv("PTINFER_FIXTURE_DIR");
  if (dir == nullptr) {
    ADD_FAILURE() << "PTINFER_FIXTURE_DIR is not set (run through ctest)";
    return name;
  }
  return std::string(dir) + "/checkpoints/" + name;
}

inline const nlohmann::json& manifest() {
  static const nlohmann::json m = [] {
    std::ifstream in(fixture_path("manifest.json"));
    if (!in) {
      ADD_FAILURE() << "missing fixture manifest " << fixture_path("manifest.json");
      return nlohmann::json::object();
    }
    return nlohmann::json::parse(in);
  }();
  return m;
}

inline c10::ScalarType dtype_from_name(const std::string& name) {
  static const std::map<std::string, c10::ScalarType> kNames = {
      {"float32", c10::kFloat},
      {"float64", c10::kDouble},
      {"float16", c10::kHalf},
      {"bfloat16", c10::kBFloat16},
      {"int8", c10::kChar},
      {"int16", c10::kShort},
      {"int32", c10::kInt},
      {"int64", c10::kLong},
      {"uint8", c10::kByte},
      {"bool", c10::kBool},
      {"complex64", c10::kComplexFloat},
      {"complex128", c10::kComplexDouble}};
  auto it = kNames.find(name);
  if (it == kNames.end()) throw std::runtime_error("unknown dtype in manifest: " + name);
  return it->second;
}

// Every element of `t` equals the manifest's values exactly (values as torch.load read them,
// row-major; complex as re/im pairs; bool as 0/1). Works on any dtype `t` was cast to.
inline void expect_values(const torch::Tensor& tensor, const nlohmann::json& values,
                          const std::string& what) {
  torch::Tensor t = tensor.contiguous();
  if (t.is_complex()) t = torch::view_as_real(t).contiguous();
  ASSERT_EQ(static_cast<size_t>(t.numel()), values.size()) << what;
  if (t.is_floating_point()) {
    torch::Tensor d = t.to(torch::kDouble).flatten();
    auto a = d.accessor<double, 1>();
    for (int64_t i = 0; i < d.numel(); ++i) {
      ASSERT_EQ(a[i], values[i].get<double>()) << what << " element " << i;
    }
  } else {
    torch::Tensor l = t.to(torch::kLong).flatten();
    auto a = l.accessor<int64_t, 1>();
    for (int64_t i = 0; i < l.numel(); ++i) {
      ASSERT_EQ(a[i], values[i].get<int64_t>()) << what << " element " << i;
    }
  }
}

// Runs `fn`, expects a ptinfer::Error of `kind`, returns its message ("" when none).
template <typename Fn>
std::string expect_error(ErrorKind kind, Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(error_kind_name(e.kind()), std::string(error_kind_name(kind))) << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ptinfer::Error, got: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected ptinfer::Error (" << error_kind_name(kind) << "), nothing thrown";
  return "";
}

}  // namespace ptinfer::checkpoint::testing
