#include "metrics/topk.h"

#include <algorithm>

#include "common/error.h"

namespace ptinfer::metrics {

TopK top_k(const torch::Tensor& logits, int64_t k) {
  if (logits.dim() != 2) {
    throw Error(ErrorKind::kInternal, "top_k expects [N, C] logits");
  }
  k = std::min<int64_t>(k, logits.size(1));
  torch::Tensor probs = torch::softmax(logits.to(torch::kFloat32), 1);
  auto [values, indices] = torch::topk(logits, k, 1, /*largest=*/true, /*sorted=*/true);
  torch::Tensor chosen = probs.gather(1, indices).contiguous();
  indices = indices.contiguous();
  TopK out;
  const int64_t n = logits.size(0);
  const auto* idx = indices.data_ptr<int64_t>();
  const auto* sc = chosen.data_ptr<float>();
  out.indices.resize(n);
  out.scores.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    out.indices[i].assign(idx + i * k, idx + (i + 1) * k);
    out.scores[i].assign(sc + i * k, sc + (i + 1) * k);
  }
  return out;
}

void AccuracyCounts::add(const TopK& topk, const std::vector<int>& targets) {
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto& row = topk.indices.at(i);
    ++samples;
    if (!row.empty() && row[0] == targets[i]) ++correct1;
    size_t k5 = std::min<size_t>(5, row.size());
    if (std::find(row.begin(), row.begin() + k5, targets[i]) != row.begin() + k5) ++correct5;
  }
}

}  // namespace ptinfer::metrics
