#include "train/param_groups.h"

#include <unordered_set>

#include "amp/model_policy.h"
#include "common/error.h"

namespace ptinfer::train {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

ParameterGroups group_parameters(torch::nn::Module& model, const GroupingOptions& options) {
  // Parameters owned directly by a BatchNorm module.
  std::unordered_set<const void*> batch_norm;
  for (const auto& m : model.modules(/*include_self=*/false)) {
    if (!amp::is_batch_norm(*m)) continue;
    for (const auto& p : m->parameters(/*recurse=*/false)) batch_norm.insert(p.unsafeGetTensorImpl());
  }
  ParameterGroups groups;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    torch::Tensor p = item.value();
    const std::string& name = item.key();
    bool trainable = options.trainable_prefix.empty() || name.rfind(options.trainable_prefix, 0) == 0;
    p.set_requires_grad(trainable);
    if (!trainable) continue;
    bool no_decay = ends_with(name, "bias") ||
                    (options.no_decay_batch_norm && batch_norm.count(p.unsafeGetTensorImpl()) > 0);
    (no_decay ? groups.no_decay : groups.decay).push_back({name, p});
  }
  if (groups.no_decay.empty() && groups.decay.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "no parameter of the model starts with '" + options.trainable_prefix + "'");
  }
  return groups;
}

}  // namespace ptinfer::train
