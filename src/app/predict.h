// `ptinfer predict`: top-k classes for image files, with the same Engine and preprocessing as
// validate.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "app/preprocessing.h"
#include "data/preprocess.h"
#include "engine/engine.h"

namespace ptinfer::app {

struct PredictOptions {
  engine::EngineOptions engine;
  PreprocessingChoice preprocessing;  // where `preprocess` came from (its explicit fields)
  data::PreprocessOptions preprocess;  // resolved; its crop follows an input size the weights fix
  std::vector<std::string> inputs;  // image files and folders (searched recursively, sorted)
  int topk = 5;
  int batch_size = 32;
  int workers = 2;
  std::string labels_path;  // --labels; else the checkpoint's class names; else indices
  std::string json_path;    // --json FILE
};

struct Prediction {
  std::string path;
  std::vector<int64_t> indices;
  std::vector<float> scores;
  std::vector<std::string> labels;
};

// Prints, per image, its path and "  score  label (index)" lines to `out`; returns the
// predictions. Throws Error for a missing input, a bad image (naming it), a labels file whose
// length differs from the model's classes, an explicit crop size other than the input size the
// weights fix (fit_input_size).
std::vector<Prediction> run_predict(const PredictOptions& options, std::ostream& out);

}  // namespace ptinfer::app
