// The guide's AverageMeter and ProgressMeter, with one correction: the sample skips its first
// 10 batches in every meter, so its accuracy leaves images out (and reads 0 with 10 batches or
// fewer). Here accuracy counts every image (topk.h); only timing skips warm-up batches.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ptinfer::metrics {

// Current value and running average; the first `skip` updates count in val but not in avg
// (timing warm-up). With fewer updates than skip, avg is the average over all of them.
class AverageMeter {
 public:
  AverageMeter(std::string name, int precision, int width, int skip = 0);
  void update(double value, int64_t n = 1);
  double val() const { return val_; }
  double avg() const;
  const std::string& name() const { return name_; }
  // "Time  0.123 ( 0.456)": the sample's '{name} {val:W.Pf} ({avg:W.Pf})'.
  std::string str() const;

 private:
  std::string name_;
  int precision_, width_, skip_;
  double val_ = 0;
  int64_t updates_ = 0;
  double sum_all_ = 0, sum_counted_ = 0;
  int64_t n_all_ = 0, n_counted_ = 0;
};

// "Test: [ 3/40]" followed by each meter, tab-separated, as the sample prints.
std::string progress_line(const std::string& prefix, int64_t batch, int64_t num_batches,
                          const std::vector<const AverageMeter*>& meters);

// printf-style "%W.Pf".
std::string format_fixed(double value, int width, int precision);

}  // namespace ptinfer::metrics
