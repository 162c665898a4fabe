#include "serve/model_store.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/error.h"
#include "models/registry.h"

namespace ptinfer::serve {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* const kConfigName = "config.json";

// Reads typed values out of one config file; every error names the file and the key.
class ConfigReader {
 public:
  explicit ConfigReader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw Error(ErrorKind::kInvalidArgument, file_ + ": \"" + key + "\" " + why);
  }

  // Throws for a key of `object` that is not in `allowed`.
  void only_keys(const json& object, const std::string& prefix,
                 const std::set<std::string>& allowed) const {
    for (auto it = object.begin(); it != object.end(); ++it) {
      if (allowed.count(it.key())) continue;
      std::string list;
      for (const auto& k : allowed) list += (list.empty() ? "" : ", ") + k;
      fail(prefix + it.key(), "is not a known key (known: " + list + ")");
    }
  }

  std::string text(const json& v, const std::string& key) const {
    if (!v.is_string() || v.get<std::string>().empty()) {
      fail(key, "must be a non-empty string, got " + v.dump());
    }
    return v.get<std::string>();
  }

  int64_t integer(const json& v, const std::string& key, int64_t min) const {
    if (!v.is_number_integer() || v.get<int64_t>() < min) {
      fail(key, "must be an integer >= " + std::to_string(min) + ", got " + v.dump());
    }
    return v.get<int64_t>();
  }

  std::array<float, 3> triple(const json& v, const std::string& key, bool positive) const {
    const char* want = positive ? "must be a list of 3 numbers > 0, got "
                                : "must be a list of 3 numbers, got ";
    if (!v.is_array() || v.size() != 3) fail(key, want + v.dump());
    std::array<float, 3> out{};
    for (size_t i = 0; i < 3; ++i) {
      if (!v[i].is_number() || (positive && !(v[i].get<double>() > 0))) fail(key, want + v.dump());
      out[i] = v[i].get<float>();
    }
    return out;
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
};

// `value` relative to `folder` unless absolute.
std::string resolve(const fs::path& folder, const std::string& value) {
  fs::path p(value);
  return (p.is_absolute() ? p : folder / p).lexically_normal().string();
}

void check_file(const std::string& source, const char* key, const std::string& path) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (!fs::exists(st)) {
    throw Error(ErrorKind::kInvalidArgument,
                source + ": \"" + key + "\": file '" + path + "' does not exist");
  }
  if (fs::is_directory(st)) {
    throw Error(ErrorKind::kInvalidArgument,
                source + ": \"" + key + "\": '" + path + "' is a directory, not a file");
  }
}

}  // namespace

ModelSpec read_model_config(const std::string& folder_text, const ModelSpec& defaults) {
  const fs::path folder(folder_text);
  const std::string file = (folder / kConfigName).string();
  ConfigReader r(file);
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw Error(ErrorKind::kInvalidArgument,
                "model folder '" + folder_text + "' has no readable " + kConfigName);
  }
  std::stringstream text;
  text << in.rdbuf();
  json j;
  try {
    j = json::parse(text.str());
  } catch (const json::parse_error& e) {
    throw Error(ErrorKind::kInvalidArgument, file + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) {
    throw Error(ErrorKind::kInvalidArgument, file + ": expected a JSON object, got " +
                                                 std::string(j.type_name()));
  }
  r.only_keys(j, "",
              {"name", "arch", "checkpoint", "checkpoint_key", "labels", "amp", "amp_dtype",
               "preprocessing", "batching"});

  ModelSpec spec = defaults;
  spec.name = folder.filename().string();
  spec.source = file;
  spec.labels.clear();  // never inherited: labels belong to the model
  spec.checkpoint_key.clear();
  if (j.contains("name") && r.text(j["name"], "name") != spec.name) {
    r.fail("name", "is " + j["name"].dump() + " but the folder is '" + spec.name +
                       "' (the folder name is the model name)");
  }
  if (!j.contains("checkpoint")) r.fail("checkpoint", "is missing (the weights file to serve)");
  spec.checkpoint = resolve(folder, r.text(j["checkpoint"], "checkpoint"));
  if (j.contains("arch")) spec.arch = r.text(j["arch"], "arch");
  if (j.contains("checkpoint_key")) {
    spec.checkpoint_key = r.text(j["checkpoint_key"], "checkpoint_key");
  }
  if (j.contains("labels")) spec.labels = resolve(folder, r.text(j["labels"], "labels"));
  try {
    if (j.contains("amp")) spec.amp.level = amp::parse_opt_level(r.text(j["amp"], "amp"), "amp");
    if (j.contains("amp_dtype")) {
      spec.amp.dtype = amp::parse_low_dtype(r.text(j["amp_dtype"], "amp_dtype"), "amp_dtype");
    }
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidArgument, file + ": " + e.what());
  }

  // "preprocessing": a string selects a base on its own (the command line's explicit flags do
  // not apply); an object's fields replace single fields of the command line's choice.
  if (j.contains("preprocessing") && j["preprocessing"].is_string()) {
    const std::string text = j["preprocessing"].get<std::string>();
    try {
      spec.preprocessing = {app::parse_preprocessing_base(text, "\"preprocessing\""), {}};
    } catch (const Error&) {
      r.fail("preprocessing", "must be \"guide\", \"model\" or an object of resize_size, "
                              "crop_size, interpolation, mean, std; got " +
                                  j["preprocessing"].dump());
    }
  } else if (j.contains("preprocessing")) {
    const json& p = j["preprocessing"];
    if (!p.is_object()) {
      r.fail("preprocessing", "must be \"guide\", \"model\" or an object, got " + p.dump());
    }
    r.only_keys(p, "preprocessing.", {"resize_size", "crop_size", "interpolation", "mean", "std"});
    app::PreprocessingOverrides& o = spec.preprocessing.overrides;
    if (p.contains("resize_size")) {
      o.resize_size = static_cast<int>(r.integer(p["resize_size"], "preprocessing.resize_size", 0));
    }
    if (p.contains("crop_size")) {
      o.crop_size = static_cast<int>(r.integer(p["crop_size"], "preprocessing.crop_size", 1));
    }
    if (p.contains("interpolation")) {
      const std::string text = r.text(p["interpolation"], "preprocessing.interpolation");
      try {
        o.interpolation = data::parse_interpolation(text, "\"preprocessing.interpolation\"");
      } catch (const Error& e) {
        throw Error(ErrorKind::kInvalidArgument, file + ": " + e.what());
      }
    }
    if (p.contains("mean")) o.mean = r.triple(p["mean"], "preprocessing.mean", false);
    if (p.contains("std")) o.std = r.triple(p["std"], "preprocessing.std", true);
  }
  if (j.contains("batching")) {
    const json& b = j["batching"];
    if (!b.is_object()) r.fail("batching", "must be an object, got " + b.dump());
    r.only_keys(b, "batching.",
                {"max_batch_size", "max_queue_delay_us", "queue_size", "request_timeout_ms"});
    if (b.contains("max_batch_size")) {
      spec.batching.max_batch_size =
          static_cast<int>(r.integer(b["max_batch_size"], "batching.max_batch_size", 1));
    }
    if (b.contains("max_queue_delay_us")) {
      spec.batching.max_queue_delay_us =
          r.integer(b["max_queue_delay_us"], "batching.max_queue_delay_us", 0);
    }
    if (b.contains("queue_size")) {
      spec.batching.queue_size =
          static_cast<int>(r.integer(b["queue_size"], "batching.queue_size", 1));
    }
    if (b.contains("request_timeout_ms")) {
      spec.batching.request_timeout_ms =
          r.integer(b["request_timeout_ms"], "batching.request_timeout_ms", 1);
    }
  }
  check_model_spec(spec);
  resolve_spec_preprocessing(spec, "--preprocessing");  // a known arch: every base resolves
  return spec;
}

std::vector<ModelSpec> read_model_store(const std::string& dir, const ModelSpec& defaults) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw Error(ErrorKind::kInvalidArgument, "--model-store '" + dir + "' is not a directory");
  }
  std::vector<fs::path> folders;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.empty() || name[0] == '.' || !it->is_directory(ec)) continue;
    folders.push_back(it->path());
  }
  if (ec) {
    throw Error(ErrorKind::kInvalidArgument,
                "--model-store '" + dir + "' cannot be listed: " + ec.message());
  }
  if (folders.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "--model-store '" + dir + "' holds no model folder (one folder per model, each "
                "with a " + kConfigName + ")");
  }
  std::sort(folders.begin(), folders.end());
  std::vector<ModelSpec> specs;
  for (const fs::path& folder : folders) {
    const std::string name = folder.filename().string();
    if (!valid_model_name(name)) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--model-store: folder '" + folder.string() +
                      "': a model name must be letters, digits, '_', '-', '.'");
    }
    if (!fs::exists(folder / kConfigName, ec)) {
      throw Error(ErrorKind::kInvalidArgument, "--model-store: folder '" + folder.string() +
                                                   "' has no " + kConfigName);
    }
    specs.push_back(read_model_config(folder.string(), defaults));
  }
  return specs;
}

void check_model_spec(const ModelSpec& spec) {
  const std::vector<std::string> archs = models::model_names();
  if (std::find(archs.begin(), archs.end(), spec.arch) == archs.end()) {
    std::string list;
    for (const auto& a : archs) list += (list.empty() ? "" : ", ") + a;
    throw Error(ErrorKind::kInvalidArgument,
                spec.source + ": \"arch\": unknown architecture '" + spec.arch + "' (known: " +
                    list + ")");
  }
  check_file(spec.source, "checkpoint", spec.checkpoint);
  if (!spec.labels.empty()) check_file(spec.source, "labels", spec.labels);
  const BatcherOptions& b = spec.batching;
  if (b.max_batch_size < 1 || b.queue_size < 1 || b.request_timeout_ms < 1 ||
      b.max_queue_delay_us < 0) {
    throw Error(ErrorKind::kInvalidArgument,
                spec.source + ": max batch size, queue size and request timeout must be >= 1 "
                              "and the queue delay >= 0");
  }
}

}  // namespace ptinfer::serve
