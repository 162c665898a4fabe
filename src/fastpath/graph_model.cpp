#include "fastpath/graph_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "common/error.h"
#include "fastpath/graph/passes.h"
#include "fastpath/graph/rebatch.h"
#include "fastpath/graph/runner.h"
#include "models/forward_trace.h"

namespace ptinfer::fastpath {

GraphModel::GraphModel(std::shared_ptr<models::ImageClassifier> model)
    : GraphModel(std::move(model), graph::OptimizeOptions{}) {}

GraphModel::GraphModel(std::shared_ptr<models::ImageClassifier> model,
                       const graph::OptimizeOptions& options)
    : model_(std::move(model)),
      dtype_(model_->parameters().empty() ? torch::kFloat32
                                          : model_->parameters().front().scalar_type()),
      options_(std::make_unique<graph::OptimizeOptions>(options)),
      memo_(std::make_unique<graph::FoldMemo>()) {}

GraphModel::~GraphModel() = default;

namespace {

std::string dims_text(const std::vector<int64_t>& shape) {
  std::string dims;
  for (int64_t d : shape) dims += (dims.empty() ? "" : "x") + std::to_string(d);
  return dims;
}

}  // namespace

graph::Graph GraphModel::record(const torch::Tensor& x) {
  const int64_t n = x.size(0);
  // The record of `batch` copies of x's first image (x itself at its own batch).
  const auto traced = [&](int64_t batch) {
    std::vector<int64_t> sizes = x.sizes().vec();
    sizes[0] = batch;
    return graph::from_trace(*models::trace_graph(
        *model_, batch == n ? x : x.narrow(0, 0, 1).expand(sizes).contiguous()));
  };
  if (n < kSmallestRebatched) return traced(n);
  const std::vector<int64_t> image(x.sizes().begin() + 1, x.sizes().end());
  auto found = records_.find(image);
  if (found == records_.end()) {
    SmallBatchRecords r{traced(1), traced(2), false};
    const std::optional<graph::Graph> predicted = graph::rebatch(r.one, r.two, 3);
    r.linear = predicted && graph::same_graph(*predicted, traced(3));
    if (!r.linear) {
      spdlog::info("fast path: input {}: the batch enters the record other than linearly; "
                   "each batch size is traced whole", dims_text(image));
    }
    found = records_.emplace(image, std::move(r)).first;
  }
  if (!found->second.linear) return traced(n);
  return *graph::rebatch(found->second.one, found->second.two, n);
}

torch::Tensor GraphModel::forward(torch::Tensor x) {
  torch::NoGradGuard no_grad;
  x = x.to(dtype_).contiguous();
  const torch::ScalarType out_dtype =
      options_->dtype == torch::kBFloat16 ? torch::kBFloat16 : dtype_;
  const std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  auto found = plans_.find(shape);
  std::optional<torch::Tensor> first_result;
  if (found == plans_.end()) {
    std::shared_ptr<graph::GraphRunner> plan;
    try {
      graph::Graph g = record(x);
      graph::optimize(g, memo_.get(), *options_);
      plan = std::make_shared<graph::GraphRunner>(std::move(g));
      first_result = plan->run(x.to(out_dtype)).to(out_dtype);
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kUnsupported) throw;
      spdlog::warn("fast path: input {} runs the plain forward: {}", dims_text(shape), e.what());
      plan.reset();
    } catch (const c10::Error& e) {
      // A LibTorch kernel inside the graph refused its inputs (a dtype it lacks, say).
      spdlog::warn("fast path: input {} runs the plain forward: its graph failed: {}",
                   dims_text(shape), e.what_without_backtrace());
      plan.reset();
      first_result.reset();
    }
    if (order_.size() == kMaxShapes) {
      plans_.erase(order_.front());
      order_.erase(order_.begin());
    }
    order_.push_back(shape);
    found = plans_.emplace(shape, std::move(plan)).first;
  }
  last_ = found->second;
  if (!last_) return model_->forward(x).to(out_dtype);
  if (first_result) return *first_result;
  return last_->run(x.to(out_dtype)).to(out_dtype);
}

std::map<std::string, int64_t> GraphModel::node_kinds() const {
  return last_ ? graph::node_kinds(last_->graph()) : std::map<std::string, int64_t>{};
}

}  // namespace ptinfer::fastpath
