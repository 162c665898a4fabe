#include "app/predictions_writer.h"


#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "common/scoped_temp_dir.h"

namespace ptinfer::app {
namespace {

TEST(PredictionsWriter, QuotesPathsAndLeavesMissingColumnsEmpty) {
  ScopedTempDir scratch("ptinfer_predictions_");
  std::string path = scratch.file("predictions.csv");
  PredictionsWriter w(path);
  w.write("a,b \"c\".jpg", 1, {1, 0}, {0.75f, 0.25f});
  w.close();
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(),
            "path,target,top1,top2,top3,top4,top5,score1,score2,score3,score4,score5\n"
            "\"a,b \"\"c\"\".jpg\",1,1,0,,,,0.75,0.25,,,\n");
}

TEST(PredictionsWriter, ScoresRoundTripExactly) {
  ScopedTempDir scratch("ptinfer_predictions_");
  std::string path = scratch.file("predictions.csv");
  const float score = 0.1234567f;
  PredictionsWriter w(path);
  w.write("x", 0, {0}, {score});
  w.close();
  std::ifstream in(path);
  std::string header, row;
  std::getline(in, header);
  std::getline(in, row);
  std::string field = row.substr(row.find(",,,,,") + 5);
  field = field.substr(0, field.find(','));
  EXPECT_EQ(std::stof(field), score) << row;
}

TEST(PredictionsWriter, UnwritablePathIsAnError) {
  EXPECT_THROW(PredictionsWriter("/nonexistent/dir/p.csv"), std::exception);
}

}  // namespace
}  // namespace ptinfer::app
