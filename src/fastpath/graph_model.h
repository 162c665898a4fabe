// The general fast path: any model of the zoo (or any ImageClassifier) run as an optimized
// graph of its dataflow (graph/graph.h), with no code per model. On the first forward of each
// input shape the model's forward is traced (models::trace_graph), the passes run
// (graph/passes.h: constants folded, BatchNorm folded into the convolutions, dead nodes removed,
// fp32 convolutions and linear layers lowered to oneDNN kernels with post-ops fused) and the
// graph is kept for that shape (up to kMaxShapes); later forwards of the shape run the graph
// alone. The other nodes run LibTorch's own kernels inside the graph; a model whose record
// holds a node the graph cannot take runs its plain forward for that shape, and says so once in
// the log.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/classifier.h"

namespace ptinfer::fastpath {

namespace graph {
class GraphRunner;
struct FoldMemo;
}  // namespace graph

class GraphModel : public models::ImageClassifier {
 public:
  // `model`: eval mode, weights loaded (fp32 as the engine builds it; float64 in the tests).
  // Kept (shared) for the tracing of later shapes; its weights are not modified.
  // `onednn_kernels`: fp32 convolutions and linear layers run oneDNN kernels with their
  // activations and residual adds fused (graph::lower_to_onednn); false keeps LibTorch's
  // kernels for every node (the tests' reference for the lowering).
  explicit GraphModel(std::shared_ptr<models::ImageClassifier> model, bool onednn_kernels = true);
  ~GraphModel() override;

  // x: [N, 3, H, W] in any float dtype -> logits [N, num_classes] in the dtype of the model's
  // parameters (x is cast to it), under no_grad.
  torch::Tensor forward(torch::Tensor x) override;

  // Node kinds of the graph built for the last shape run, e.g. {"aten::_convolution": 53};
  // empty before the first forward or when that shape runs the plain forward.
  std::map<std::string, int64_t> node_kinds() const;

  // The most shapes whose graphs are kept; the oldest goes first. A graph holds little of its
  // own (the weights are the model's or shared through the memo), and a server's dynamic
  // batches come in every size up to its largest: each is traced once (0.1-0.3 s here).
  static constexpr size_t kMaxShapes = 64;

 private:
  std::shared_ptr<models::ImageClassifier> model_;
  torch::ScalarType dtype_;
  bool onednn_kernels_;
  std::unique_ptr<graph::FoldMemo> memo_;
  std::map<std::vector<int64_t>, std::shared_ptr<graph::GraphRunner>> plans_;  // null: plain
  std::vector<std::vector<int64_t>> order_;  // plans_'s keys, oldest first
  std::shared_ptr<graph::GraphRunner> last_;
};

}  // namespace ptinfer::fastpath
