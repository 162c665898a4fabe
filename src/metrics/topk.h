// Top-k results and accuracy counting, as the guide's accuracy(): a sample counts as correct at
// k when its target is among the k highest logits (torch.topk order, largest first).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace ptinfer::metrics {

struct TopK {
  std::vector<std::vector<int64_t>> indices;  // per sample, k class indices, best first
  std::vector<std::vector<float>> scores;     // per sample, the softmax probabilities of those
};

// Top-k of float logits [N, C] with k clamped to C. Scores are softmax probabilities (float32,
// as torch.softmax(logits, 1) computes them).
TopK top_k(const torch::Tensor& logits, int64_t k);

// Counts of correct predictions at k = 1 and k = 5 (k clamped to the number of classes).
struct AccuracyCounts {
  int64_t samples = 0;
  int64_t correct1 = 0;
  int64_t correct5 = 0;

  void add(const TopK& topk, const std::vector<int>& targets);
  double acc1() const { return samples ? 100.0 * correct1 / samples : 0.0; }
  double acc5() const { return samples ? 100.0 * correct5 / samples : 0.0; }
};

}  // namespace ptinfer::metrics
