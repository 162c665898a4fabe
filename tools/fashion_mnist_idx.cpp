#include "tools/fashion_mnist_idx.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <vector>

#include "common/error.h"

namespace ptinfer::tools {
namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorKind::kNotFound, path + ": cannot open");
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

uint32_t be32(const std::vector<uint8_t>& b, size_t at) {
  return (uint32_t(b[at]) << 24) | (uint32_t(b[at + 1]) << 16) | (uint32_t(b[at + 2]) << 8) |
         uint32_t(b[at + 3]);
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> load_fashion_mnist(const std::string& images_path,
                                                           const std::string& labels_path,
                                                           int64_t limit) {
  auto images = read_file(images_path);
  auto labels = read_file(labels_path);
  auto bad = [](const std::string& p) {
    return Error(ErrorKind::kInvalidArgument,
                 p + ": not an uncompressed idx file of the expected shape");
  };
  if (images.size() < 16 || be32(images, 0) != 2051) throw bad(images_path);
  if (labels.size() < 8 || be32(labels, 0) != 2049) throw bad(labels_path);
  int64_t n = be32(images, 4), rows = be32(images, 8), cols = be32(images, 12);
  if (int64_t(images.size()) != 16 + n * rows * cols) throw bad(images_path);
  if (int64_t(be32(labels, 4)) != n || int64_t(labels.size()) != 8 + n) throw bad(labels_path);
  if (limit > 0 && limit < n) n = limit;
  torch::Tensor x = torch::from_blob(images.data() + 16, {n, 1, rows, cols}, torch::kUInt8)
                        .to(torch::kFloat32)
                        .div(255)
                        .sub(0.2860f)
                        .div(0.3530f)
                        .expand({n, 3, rows, cols})
                        .contiguous();
  torch::Tensor y = torch::from_blob(labels.data() + 8, {n}, torch::kUInt8).to(torch::kInt64);
  return {x, y.clone()};
}

}  // namespace ptinfer::tools
