#include "amp/loss_scaler.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/error.h"

namespace ptinfer::amp {
namespace {

bool finite_positive(double v) { return std::isfinite(v) && v > 0; }

}  // namespace

LossScalerOptions parse_loss_scale(const std::string& text, const std::string& flag) {
  LossScalerOptions o;
  if (text == "dynamic") return o;
  const char* begin = text.c_str();
  char* end = nullptr;
  double v = std::strtod(begin, &end);
  if (text.empty() || end != begin + text.size() || !finite_positive(v)) {
    throw Error(ErrorKind::kInvalidArgument,
                flag + ": expected 'dynamic' or a number > 0, got '" + text + "'");
  }
  o.dynamic = false;
  o.init_scale = v;
  return o;
}

LossScaler::LossScaler(const LossScalerOptions& o) : options_(o), scale_(o.init_scale) {
  auto bad = [](const std::string& what) {
    throw Error(ErrorKind::kInvalidArgument, "loss scaler: " + what);
  };
  if (!finite_positive(o.init_scale)) bad("initial scale must be a finite number > 0");
  if (!finite_positive(o.min_scale) || !finite_positive(o.max_scale) || o.min_scale > o.max_scale)
    bad("need 0 < min_scale <= max_scale, both finite");
  if (!(o.growth_factor > 1) || !std::isfinite(o.growth_factor)) bad("growth factor must be > 1");
  if (!(o.backoff_factor > 0 && o.backoff_factor < 1)) bad("backoff factor must be in (0, 1)");
  if (o.growth_interval < 1) bad("growth interval must be >= 1");
}

torch::Tensor LossScaler::scale_loss(const torch::Tensor& loss) const { return loss * scale_; }

bool LossScaler::unscale_and_check(const std::vector<torch::Tensor>& params) const {
  torch::NoGradGuard no_grad;
  bool overflow = false;
  const double inverse = 1.0 / scale_;
  for (const auto& p : params) {
    torch::Tensor g = p.grad();
    if (!g.defined()) continue;
    g.mul_(inverse);
    // Every gradient is unscaled even after an overflow is found, so that the caller always
    // sees gradients at their true scale.
    if (!overflow && !torch::isfinite(g).all().item<bool>()) overflow = true;
  }
  return overflow;
}

void LossScaler::update(bool overflow) {
  if (overflow) {
    ++skipped_;
    good_in_a_row_ = 0;
    if (options_.dynamic) scale_ = std::max(options_.min_scale, scale_ * options_.backoff_factor);
    return;
  }
  ++good_in_a_row_;
  if (options_.dynamic && good_in_a_row_ >= options_.growth_interval) {
    scale_ = std::min(options_.max_scale, scale_ * options_.growth_factor);
    good_in_a_row_ = 0;
  }
}

bool LossScaler::step(torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> params;
  for (const auto& group : optimizer.param_groups()) {
    params.insert(params.end(), group.params().begin(), group.params().end());
  }
  bool overflow = unscale_and_check(params);
  if (!overflow) optimizer.step();
  update(overflow);
  return !overflow;
}

}  // namespace ptinfer::amp
