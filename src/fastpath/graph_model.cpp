#include "fastpath/graph_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/error.h"
#include "fastpath/graph/passes.h"
#include "fastpath/graph/runner.h"
#include "models/forward_trace.h"

namespace ptinfer::fastpath {

GraphModel::GraphModel(std::shared_ptr<models::ImageClassifier> model, bool onednn_kernels)
    : model_(std::move(model)),
      dtype_(model_->parameters().empty() ? torch::kFloat32
                                          : model_->parameters().front().scalar_type()),
      onednn_kernels_(onednn_kernels),
      memo_(std::make_unique<graph::FoldMemo>()) {}

GraphModel::~GraphModel() = default;

torch::Tensor GraphModel::forward(torch::Tensor x) {
  torch::NoGradGuard no_grad;
  x = x.to(dtype_).contiguous();
  const std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  auto found = plans_.find(shape);
  if (found == plans_.end()) {
    std::shared_ptr<graph::GraphRunner> plan;
    try {
      graph::Graph g = graph::from_trace(*models::trace_graph(*model_, x));
      graph::optimize(g, memo_.get(), onednn_kernels_);
      plan = std::make_shared<graph::GraphRunner>(std::move(g));
    } catch (const Error& e) {
      if (e.kind() != ErrorKind::kUnsupported) throw;
      std::string dims;
      for (int64_t d : shape) dims += (dims.empty() ? "" : "x") + std::to_string(d);
      spdlog::warn("fast path: input {} runs the plain forward: {}", dims, e.what());
    }
    if (order_.size() == kMaxShapes) {
      plans_.erase(order_.front());
      order_.erase(order_.begin());
    }
    order_.push_back(shape);
    found = plans_.emplace(shape, std::move(plan)).first;
  }
  last_ = found->second;
  if (!last_) return model_->forward(x);
  return last_->run(x);
}

std::map<std::string, int64_t> GraphModel::node_kinds() const {
  return last_ ? graph::node_kinds(last_->graph()) : std::map<std::string, int64_t>{};
}

}  // namespace ptinfer::fastpath
