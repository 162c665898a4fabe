#include "app/predictions_writer.h"

#include <cstdio>

#include "common/error.h"

namespace ptinfer::app {

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

PredictionsWriter::PredictionsWriter(const std::string& path) : path_(path), out_(path) {
  if (!out_) {
    throw Error(ErrorKind::kInvalidArgument, "--predictions: cannot write '" + path + "'");
  }
  out_ << "path,target,top1,top2,top3,top4,top5,score1,score2,score3,score4,score5\n";
}

void PredictionsWriter::write(const std::string& image_path, int target,
                              const std::vector<int64_t>& indices,
                              const std::vector<float>& scores) {
  out_ << csv_field(image_path) << ',' << target;
  for (size_t i = 0; i < 5; ++i) {
    out_ << ',';
    if (i < indices.size()) out_ << indices[i];
  }
  char buf[32];
  for (size_t i = 0; i < 5; ++i) {
    out_ << ',';
    if (i < scores.size()) {
      std::snprintf(buf, sizeof buf, "%.9g", scores[i]);  // round-trips a float exactly
      out_ << buf;
    }
  }
  out_ << '\n';
}

void PredictionsWriter::close() {
  out_.flush();
  if (!out_) throw Error(ErrorKind::kInternal, "--predictions: write to '" + path_ + "' failed");
  out_.close();
}

}  // namespace ptinfer::app
