// The --predictions CSV: a header, then one row per image:
//   path,target,top1..top5 (class indices),score1..score5 (softmax probabilities)
// Rows with fewer than 5 classes leave the missing columns empty. Paths are quoted as CSV.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace ptinfer::app {

class PredictionsWriter {
 public:
  // Opens `path` for writing; throws Error(kInvalidArgument) naming it when it cannot.
  explicit PredictionsWriter(const std::string& path);
  void write(const std::string& image_path, int target, const std::vector<int64_t>& indices,
             const std::vector<float>& scores);
  // Flushes and checks the stream; throws Error naming the path on a write failure.
  void close();

 private:
  std::string path_;
  std::ofstream out_;
};

// A CSV field, quoted when it holds a comma, quote or newline.
std::string csv_field(const std::string& value);

}  // namespace ptinfer::app
