#include "fastpath/graph/passes.h"

#include "fastpath/graph/onednn_kernels.h"

namespace ptinfer::fastpath::graph {

FoldMemo::FoldMemo() : packed_weights(std::make_shared<PackedWeightCache>()) {}
FoldMemo::~FoldMemo() = default;

void optimize(Graph& graph, FoldMemo* memo, bool onednn_kernels) {
  fold_constants(graph);
  remove_inference_identities(graph);
  fold_batch_norm(graph, memo);
  remove_dead_nodes(graph);
  if (onednn_kernels && lower_to_onednn(graph, memo) > 0) remove_dead_nodes(graph);
}

}  // namespace ptinfer::fastpath::graph
