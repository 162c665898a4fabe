// Loss scaling for low-precision training steps, as Apex's amp (loss_scale=N or "dynamic").
//
// A training step with a scaler:
//   scaler.scale(loss).backward();              // gradients are `scale` times too large
//   bool taken = scaler.step(optimizer);        // unscale, check inf/NaN, step or skip, update
//
// Dynamic scaling (Apex's defaults): start at 2^16; an overflowing step is skipped and the scale
// multiplied by the backoff factor (0.5); after `growth_interval` (2000) consecutive good steps
// the scale is multiplied by the growth factor (2), bounded by [min_scale, max_scale]. A static
// scale never changes; unlike Apex, which applies an overflowing step under a static scale, we
// skip it too, because an inf/NaN update would destroy the weights.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ptinfer::amp {

struct LossScalerOptions {
  bool dynamic = true;             // false: the scale stays init_scale
  double init_scale = 65536.0;     // 2^16, Apex's initial dynamic scale (or the static scale)
  double growth_factor = 2.0;      // applied after growth_interval good steps in a row
  double backoff_factor = 0.5;     // applied on an overflowing step
  int64_t growth_interval = 2000;  // Apex's scale_window
  double min_scale = 1.0;          // the scale never backs off below this
  double max_scale = 16777216.0;   // 2^24, Apex's max_loss_scale
};

// --loss-scale: "dynamic" -> the dynamic defaults; a number > 0 -> a static scale. Throws
// Error(kInvalidArgument) naming `flag` for anything else (not a number, <= 0, inf, NaN).
LossScalerOptions parse_loss_scale(const std::string& text,
                                   const std::string& flag = "--loss-scale");

class LossScaler {
 public:
  // Throws Error(kInvalidArgument) for init_scale/min_scale/max_scale not finite and > 0,
  // min_scale > max_scale, growth_factor <= 1, backoff_factor outside (0, 1) or
  // growth_interval < 1.
  explicit LossScaler(const LossScalerOptions& options = {});

  double scale() const { return scale_; }
  bool dynamic() const { return options_.dynamic; }
  int64_t skipped_steps() const { return skipped_; }
  int64_t good_steps_in_a_row() const { return good_in_a_row_; }

  // loss * scale (in the loss's dtype promoted with fp32).
  torch::Tensor scale_loss(const torch::Tensor& loss) const;

  // Divides every defined gradient of `params` by the scale, in place, and returns true when any
  // gradient holds inf or NaN (after unscaling). Parameters without a gradient are ignored.
  bool unscale_and_check(const std::vector<torch::Tensor>& params) const;

  // Records a step's outcome and adjusts the scale (dynamic only): an overflow counts as skipped,
  // backs off and restarts the good-step count; otherwise the count grows and at growth_interval
  // the scale grows and the count restarts.
  void update(bool overflow);

  // unscale_and_check over the optimizer's parameters, optimizer.step() unless there was an
  // overflow, then update(). Returns true when the step was taken. The caller zeroes gradients.
  bool step(torch::optim::Optimizer& optimizer);

 private:
  LossScalerOptions options_;
  double scale_;
  int64_t good_in_a_row_ = 0;
  int64_t skipped_ = 0;
};

}  // namespace ptinfer::amp
