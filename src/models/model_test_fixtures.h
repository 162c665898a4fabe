// Test-only helpers for the fixtures make_model_fixtures.py (and make_fastpath_fixtures.py)
// write under $PTINFER_FIXTURE_DIR: JSON indexes and raw little-endian tensors. Header-only;
// included by models_tests and fastpath_tests.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

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

}  // namespace ptinfer::testing
