#include "fastpath/graph/passes.h"

#include "fastpath/graph/onednn_kernels.h"

namespace ptinfer::fastpath::graph {

FoldMemo::FoldMemo() : packed_weights(std::make_shared<PackedWeightCache>()) {}
FoldMemo::~FoldMemo() = default;

void optimize(Graph& graph, FoldMemo* memo, const OptimizeOptions& options) {
  fold_constants(graph);
  remove_inference_identities(graph);
  fold_batch_norm(graph, memo);
  remove_dead_nodes(graph);
  const bool bf16 = options.dtype == c10::ScalarType::BFloat16;
  if (options.onednn_kernels && lower_to_onednn(graph, memo, bf16) > 0) remove_dead_nodes(graph);
  if (bf16) cast_constants_to_bf16(graph, options.keep_batch_norm_fp32);
}

}  // namespace ptinfer::fastpath::graph
