// Fashion-MNIST's idx files as the demo's model inputs, for the device checks.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>

namespace ptinfer::tools {

// Reads uncompressed idx files (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) and returns the
// first `limit` images (all when limit <= 0) as [N, 3, 28, 28] float32, normalized as the demo
// (ToTensor, then Normalize with mean 0.2860 and std 0.3530; gray replicated to RGB as PIL's
// convert('RGB') does), and the labels as int64 [N]. Throws Error(kNotFound) for a missing file,
// Error(kInvalidArgument) for one that is not an idx file of the expected shape.
std::pair<torch::Tensor, torch::Tensor> load_fashion_mnist(const std::string& images_path,
                                                           const std::string& labels_path,
                                                           int64_t limit);

}  // namespace ptinfer::tools
