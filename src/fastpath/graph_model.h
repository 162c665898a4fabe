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

#include "fastpath/graph/graph.h"
#include "models/classifier.h"

namespace ptinfer::fastpath {

namespace graph {
class GraphRunner;
struct FoldMemo;
struct OptimizeOptions;
}  // namespace graph

class GraphModel : public models::ImageClassifier {
 public:
  // `model`: eval mode, weights loaded (fp32 as the engine builds it; float64 in the tests).
  // Kept (shared) for the tracing of later shapes; its weights are not modified.
  // `options.onednn_kernels`: convolutions, linear layers and matmuls run oneDNN kernels with
  // their activations and residual adds fused (graph::lower_to_onednn); false keeps LibTorch's
  // kernels for every node (the tests' reference for the lowering). `options.dtype` kBFloat16
  // (the model's weights still fp32): those kernels in bf16, the other nodes on bf16 tensors
  // (graph::cast_constants_to_bf16), logits bf16.
  explicit GraphModel(std::shared_ptr<models::ImageClassifier> model,
                      const graph::OptimizeOptions& options);
  explicit GraphModel(std::shared_ptr<models::ImageClassifier> model);
  ~GraphModel() override;

  // x: [N, 3, H, W] in any float dtype -> logits [N, num_classes] in the dtype of the model's
  // parameters (x is cast to it), or bf16 with options.dtype bf16, under no_grad. A shape
  // whose graph fails on its first run (a LibTorch kernel without bf16, say) runs the plain
  // forward from then on, with a warning.
  torch::Tensor forward(torch::Tensor x) override;

  // Node kinds of the graph built for the last shape run, e.g. {"aten::_convolution": 53};
  // empty before the first forward or when that shape runs the plain forward.
  std::map<std::string, int64_t> node_kinds() const;

  // The most shapes whose graphs are kept; the oldest goes first. A graph holds little of its
  // own (the weights are the model's or shared through the memo), and a server's dynamic
  // batches come in every size up to its largest: each is built once (kSmallestRebatched).
  static constexpr size_t kMaxShapes = 64;

  // From this batch size up, a shape's graph is not traced at its own batch: the graphs of
  // batches 1 and 2 of the same image size (checked against batch 3's, once) give it
  // (graph/rebatch.h): the tracer holds every intermediate tensor of what it records, which
  // at batch 32 is gigabytes for the larger models.
  static constexpr int64_t kSmallestRebatched = 3;

 private:
  struct SmallBatchRecords {
    graph::Graph one, two;  // from_trace at batch 1 and 2
    bool linear = false;    // rebatch(one, two, 3) was batch 3's record
  };
  // The graph of x's shape, before the passes: traced, or rebatched from small records.
  graph::Graph record(const torch::Tensor& x);

  std::shared_ptr<models::ImageClassifier> model_;
  torch::ScalarType dtype_;  // of the model's parameters: the traced graph's
  std::unique_ptr<graph::OptimizeOptions> options_;
  std::unique_ptr<graph::FoldMemo> memo_;
  std::map<std::vector<int64_t>, std::shared_ptr<graph::GraphRunner>> plans_;  // null: plain
  std::map<std::vector<int64_t>, SmallBatchRecords> records_;  // by [C, H, W]
  std::vector<std::vector<int64_t>> order_;  // plans_'s keys, oldest first
  std::shared_ptr<graph::GraphRunner> last_;
};

}  // namespace ptinfer::fastpath
