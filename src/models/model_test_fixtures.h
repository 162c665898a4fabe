// Test-only helpers for the fixtures make_model_fixtures.py (and make_fastpath_fixtures.py)
// write under $PTINFER_FIXTURE_DIR: JSON indexes and raw little-endian tensors, and the
// parameters the script generates instead of writing them. Header-only; included by
// models_tests and fastpath_tests.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/registry.h"

namespace ptinfer::testing {

// $PTINFER_FIXTURE_DIR/name; throws when the variable is unset (the tests run via ctest).
inline std::filesystem::path model_fixture_dir(const std::string& name) {
  const char* dir = std::getenv("PTINFER_FIXTURE_DIR");
  if (dir == nullptr) throw std::runtime_error("PTINFER_FIXTURE_DIR is not set (run via ctest)");
  return std::filesystem::path(dir) / name;
}

// The JSON document at `path`; throws naming the file when it is missing.
inline nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture " + path.string());
  return nlohmann::json::parse(in);
}

// Reads the bytes at `offset` of `path` into a new tensor of `shape`/`dtype`; the size is
// checked against the file before anything is allocated.
inline torch::Tensor read_raw(const std::filesystem::path& path, uint64_t offset,
                              const std::vector<int64_t>& shape, torch::Dtype dtype) {
  const uint64_t file_size = std::filesystem::file_size(path);
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  const uint64_t nbytes = static_cast<uint64_t>(numel) * torch::elementSize(dtype);
  if (offset > file_size || nbytes > file_size - offset) {
    throw std::runtime_error(path.string() + ": tensor at " + std::to_string(offset) +
                             " runs past the end of the file");
  }
  torch::Tensor t = torch::empty(shape, torch::TensorOptions().dtype(dtype));
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(nbytes));
  if (!in) throw std::runtime_error(path.string() + ": short read");
  return t;
}

// make_model_fixtures.py's hashed_uniform: `numel` values k / 32768 (k an integer in
// [-32768, 32767]), value i the hash of (ordinal, i mod 1000003) in 32-bit arithmetic, bit for
// bit as the script computes them (the same LibTorch ops, every step exact).
inline torch::Tensor hashed_uniform(int64_t ordinal, int64_t numel) {
  constexpr int64_t kMask32 = 0xFFFFFFFF;
  constexpr int64_t kPeriod = 1000003;  // prime: rows of any width do not repeat one another
  torch::Tensor x = torch::arange(std::min(numel, kPeriod), torch::kInt64);
  x = torch::bitwise_and(x + ordinal * 1000003, kMask32);
  x = torch::bitwise_and(x * 1103515245 + 12345, kMask32);
  x = torch::bitwise_xor(x, torch::bitwise_right_shift(x, 16));
  x = torch::bitwise_and(x * 73244475, kMask32);
  x = torch::bitwise_xor(x, torch::bitwise_right_shift(x, 16));
  const torch::Tensor table =
      (torch::bitwise_and(x, 0xFFFF) - 32768).to(torch::kFloat32) / 32768.0;
  if (numel <= kPeriod) return table;
  torch::Tensor out = torch::empty({numel}, torch::kFloat32);
  for (int64_t start = 0; start < numel; start += kPeriod) {
    const int64_t n = std::min(kPeriod, numel - start);
    out.slice(0, start, start + n).copy_(table.slice(0, 0, n));
  }
  return out;
}

// make_model_fixtures.py's generated_parameter: the value of the parameter `name` at state-dict
// position `ordinal` (a weight of two or more dimensions uniform with variance 2 / fan_in, any
// other *weight in [0.5, 1), the rest in [-1/16, 1/16)).
inline torch::Tensor generated_parameter(int64_t ordinal, const std::string& name,
                                         const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  const torch::Tensor u = hashed_uniform(ordinal, numel).reshape(shape);
  const int64_t fan_in = shape.size() >= 2 && shape[0] > 0 ? numel / shape[0] : 1;
  if (shape.size() >= 2 && fan_in > 1) {
    const float scale = static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in)));
    return u * static_cast<double>(scale);
  }
  const std::string suffix = "weight";
  if (name.size() >= suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return u * 0.25 + 0.75;
  }
  return u * 0.0625;
}

// The value of state-dict entry `ordinal` of a make_model_fixtures.py index read from `dir`:
// a stored buffer (the entry has an offset into index["buffers"]) or a generated parameter.
inline torch::Tensor fixture_state_value(const std::filesystem::path& dir,
                                         const nlohmann::json& index, size_t ordinal) {
  const auto& e = index.at("state_dict").at(ordinal);
  const auto shape = e.at("shape").get<std::vector<int64_t>>();
  const std::string dtype_name = e.at("dtype").get<std::string>();
  if (dtype_name != "float32" && dtype_name != "int64") {
    throw std::runtime_error("unexpected fixture dtype " + dtype_name);
  }
  const torch::Dtype dtype = dtype_name == "int64" ? torch::kInt64 : torch::kFloat32;
  if (e.contains("offset")) {
    return read_raw(dir / index.at("buffers").get<std::string>(), e.at("offset").get<uint64_t>(),
                    shape, dtype);
  }
  return generated_parameter(static_cast<int64_t>(ordinal), e.at("name").get<std::string>(),
                             shape);
}

// The registry model of `arch` with the weights of its make_model_fixtures.py index
// ($PTINFER_FIXTURE_DIR/models/<arch>.json), in eval mode.
inline std::shared_ptr<models::ImageClassifier> fixture_model(const std::string& arch) {
  const std::filesystem::path dir = model_fixture_dir("models");
  const nlohmann::json index = read_json(dir / (arch + ".json"));
  auto model = models::create_model(arch, index.at("num_classes").get<int64_t>(),
                                    models::Init::kSkip);
  std::map<std::string, torch::Tensor> slots;
  for (const auto& p : model->named_parameters()) slots[p.key()] = p.value();
  for (const auto& b : model->named_buffers()) slots[b.key()] = b.value();
  torch::NoGradGuard no_grad;
  const auto& entries = index.at("state_dict");
  if (entries.size() != slots.size()) {  // every slot written: kSkip leaves them uninitialised
    throw std::runtime_error(arch + ": the fixture has " + std::to_string(entries.size()) +
                             " state-dict entries, the model " + std::to_string(slots.size()));
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    slots.at(entries[i].at("name").get<std::string>()).copy_(fixture_state_value(dir, index, i));
  }
  model->eval();
  return model;
}

}  // namespace ptinfer::testing
