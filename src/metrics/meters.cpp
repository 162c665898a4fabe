#include "metrics/meters.h"

#include <cstdio>

namespace ptinfer::metrics {

std::string format_fixed(double value, int width, int precision) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%*.*f", width, precision, value);
  return buf;
}

AverageMeter::AverageMeter(std::string name, int precision, int width, int skip)
    : name_(std::move(name)), precision_(precision), width_(width), skip_(skip) {}

void AverageMeter::update(double value, int64_t n) {
  val_ = value;
  sum_all_ += value * n;
  n_all_ += n;
  if (updates_++ >= skip_) {
    sum_counted_ += value * n;
    n_counted_ += n;
  }
}

double AverageMeter::avg() const {
  if (n_counted_ > 0) return sum_counted_ / n_counted_;
  return n_all_ > 0 ? sum_all_ / n_all_ : 0.0;
}

std::string AverageMeter::str() const {
  return name_ + " " + format_fixed(val_, width_, precision_) + " (" +
         format_fixed(avg(), width_, precision_) + ")";
}

std::string progress_line(const std::string& prefix, int64_t batch, int64_t num_batches,
                          const std::vector<const AverageMeter*>& meters) {
  int digits = static_cast<int>(std::to_string(num_batches).size());
  char buf[64];
  std::snprintf(buf, sizeof buf, "[%*lld/%lld]", digits, static_cast<long long>(batch),
                static_cast<long long>(num_batches));
  std::string line = prefix + buf;
  for (const auto* m : meters) line += "\t" + m->str();
  return line;
}

}  // namespace ptinfer::metrics
