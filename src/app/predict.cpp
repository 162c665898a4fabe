#include "app/predict.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <ostream>

#include "app/labels.h"
#include "common/error.h"
#include "data/batch_loader.h"
#include "data/image_folder.h"
#include "metrics/meters.h"
#include "metrics/topk.h"

namespace ptinfer::app {
namespace {

// Files named directly are taken whatever their extension; folders contribute their image files.
std::vector<data::Sample> collect_inputs(const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::vector<data::Sample> samples;
  for (const auto& input : inputs) {
    std::error_code ec;
    if (fs::is_directory(input, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(
               input, fs::directory_options::follow_directory_symlink, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && data::has_image_extension(it->path().string())) {
          found.push_back(it->path().string());
        }
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) {
        throw Error(ErrorKind::kNotFound, "'" + input + "' holds no image file");
      }
      for (auto& f : found) samples.push_back({f, -1});
    } else if (fs::exists(input, ec)) {
      samples.push_back({input, -1});
    } else {
      throw Error(ErrorKind::kNotFound, "image '" + input + "' does not exist");
    }
  }
  if (samples.empty()) throw Error(ErrorKind::kInvalidArgument, "no image given");
  return samples;
}

}  // namespace

std::vector<Prediction> run_predict(const PredictOptions& options, std::ostream& out) {
  if (options.topk < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "--topk must be >= 1, got " + std::to_string(options.topk));
  }
  std::vector<data::Sample> samples = collect_inputs(options.inputs);
  engine::Engine engine(options.engine);
  std::vector<std::string> names = engine.info().class_names;
  if (!options.labels_path.empty()) {
    names = read_labels(options.labels_path);
    if (static_cast<int64_t>(names.size()) != engine.info().num_classes) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--labels '" + options.labels_path + "' names " + std::to_string(names.size()) +
                      " classes but the model has " + std::to_string(engine.info().num_classes));
    }
  }

  // The crop follows an input size the weights fix (a ViT trained at 384).
  const PreprocessingOverrides& given = options.preprocessing.overrides;
  const data::PreprocessOptions preprocess = data::fit_input_size(
      options.preprocess, engine.info().input_size, given.crop_size.has_value(),
      given.resize_size.has_value(), engine.info().weights);
  if (preprocess.crop_size != options.preprocess.crop_size) {
    spdlog::info("predict: {} fixes the input size to {}x{}: running {}", engine.info().weights,
                 preprocess.crop_size, preprocess.crop_size,
                 describe_preprocessing(preprocess, false));
  }
  data::BatchLoaderOptions loader_options;
  loader_options.batch_size = std::max(1, options.batch_size);
  loader_options.workers = std::max(1, options.workers);
  loader_options.first_batch_alone = true;  // the first forward packs weights: let it run alone
  data::BatchLoader loader(
      samples, data::preprocessed_size(preprocess),
      [preprocess](const std::string& path, float* dst) {
        data::preprocess_file(path, preprocess, dst);
      },
      loader_options);

  std::vector<Prediction> predictions;
  const int64_t crop = preprocess.crop_size;
  while (std::optional<data::Batch> batch = loader.next()) {
    torch::Tensor input =
        torch::from_blob(batch->data.data(), {batch->size(), 3, crop, crop}, torch::kFloat32);
    metrics::TopK topk = metrics::top_k(engine.run(input), options.topk);
    // Done with the batch's floats (top_k copied what it needs): a worker refills them.
    input = torch::Tensor();
    loader.recycle(std::move(batch->data));
    for (int64_t i = 0; i < batch->size(); ++i) {
      Prediction p{batch->paths[i], topk.indices[i], topk.scores[i], {}};
      out << p.path << "\n";
      for (size_t k = 0; k < p.indices.size(); ++k) {
        std::string label = p.indices[k] < static_cast<int64_t>(names.size())
                                ? names[p.indices[k]]
                                : std::to_string(p.indices[k]);
        p.labels.push_back(label);
        out << "  " << metrics::format_fixed(p.scores[k], 6, 4) << "  " << label << " ("
            << p.indices[k] << ")\n";
      }
      predictions.push_back(std::move(p));
    }
  }
  out.flush();

  if (!options.json_path.empty()) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& p : predictions) {
      nlohmann::json top = nlohmann::json::array();
      for (size_t k = 0; k < p.indices.size(); ++k) {
        top.push_back({{"index", p.indices[k]}, {"label", p.labels[k]}, {"score", p.scores[k]}});
      }
      j.push_back({{"path", p.path}, {"topk", top}});
    }
    std::ofstream json(options.json_path);
    json << j.dump(2) << "\n";
    if (!json) {
      throw Error(ErrorKind::kInvalidArgument, "--json: cannot write '" + options.json_path + "'");
    }
  }
  return predictions;
}

}  // namespace ptinfer::app
