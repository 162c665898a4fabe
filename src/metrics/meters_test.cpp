#include "metrics/meters.h"

#include <gtest/gtest.h>

namespace ptinfer::metrics {
namespace {

TEST(AverageMeter, FormatsLikeTheSample) {
  AverageMeter time("Time", 3, 6);
  time.update(0.5);
  time.update(1.5);
  // '{name} {val:6.3f} ({avg:6.3f})'
  EXPECT_EQ(time.str(), "Time  1.500 ( 1.000)");
}

TEST(AverageMeter, SkipsWarmupUpdatesInTheAverageOnly) {
  AverageMeter time("Time", 3, 6, /*skip=*/2);
  time.update(10.0);
  EXPECT_DOUBLE_EQ(time.avg(), 10.0);  // fewer updates than skip: average of all
  time.update(8.0);
  time.update(1.0);
  time.update(3.0);
  EXPECT_DOUBLE_EQ(time.val(), 3.0);
  EXPECT_DOUBLE_EQ(time.avg(), 2.0);
}

TEST(AverageMeter, WeightsByCount) {
  AverageMeter acc("Acc@1", 2, 6);
  acc.update(100.0, 3);
  acc.update(0.0, 1);
  EXPECT_DOUBLE_EQ(acc.avg(), 75.0);
  EXPECT_EQ(acc.str(), "Acc@1   0.00 ( 75.00)");
}

TEST(ProgressLine, PadsTheBatchIndexToTheWidthOfTheCount) {
  AverageMeter a("Acc@1", 2, 6);
  a.update(50.0);
  EXPECT_EQ(progress_line("Test: ", 3, 120, {&a}), "Test: [  3/120]\tAcc@1  50.00 ( 50.00)");
  EXPECT_EQ(progress_line("Test: ", 0, 7, {}), "Test: [0/7]");
}

}  // namespace
}  // namespace ptinfer::metrics
