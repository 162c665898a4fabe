#include "serve/model_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "common/error.h"

namespace ptinfer::serve {
namespace {

namespace fs = std::filesystem;

class ModelStore : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("ptinfer_store_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
    defaults_.arch = "resnet50";
    defaults_.batching.max_batch_size = 4;
    defaults_.preprocessing.overrides.crop_size = 200;  // as --crop-size 200
  }
  void TearDown() override { fs::remove_all(root_); }

  // root/<name>/config.json holding `config`, plus an (empty) model.pth.
  std::string model(const std::string& name, const std::string& config) {
    fs::path dir = root_ / name;
    fs::create_directories(dir);
    std::ofstream(dir / "model.pth") << "x";
    std::ofstream(dir / "config.json") << config;
    return dir.string();
  }

  // The message of the Error(kInvalidArgument) `read_model_config(dir)` throws.
  std::string error_of(const std::string& dir) {
    try {
      read_model_config(dir, defaults_);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
      return e.what();
    }
    ADD_FAILURE() << dir << " was accepted";
    return "";
  }

  fs::path root_;
  ModelSpec defaults_;
};

TEST_F(ModelStore, ReadsEveryKeyAndKeepsDefaults) {
  std::string dir = model("r18", R"({
    "name": "r18", "arch": "resnet18", "checkpoint": "model.pth", "labels": "labels.json",
    "checkpoint_key": "state_dict", "amp": "O2", "amp_dtype": "bf16",
    "preprocessing": {"resize_size": 40, "crop_size": 32, "interpolation": "bicubic",
                      "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.5, 1]},
    "batching": {"max_batch_size": 16, "max_queue_delay_us": 0, "queue_size": 32,
                 "request_timeout_ms": 100}})");
  std::ofstream(fs::path(dir) / "labels.json") << R"({"0": "a"})";
  ModelSpec s = read_model_config(dir, defaults_);
  EXPECT_EQ(s.name, "r18");
  EXPECT_EQ(s.arch, "resnet18");
  EXPECT_EQ(s.checkpoint, (fs::path(dir) / "model.pth").string());
  EXPECT_EQ(s.labels, (fs::path(dir) / "labels.json").string());
  EXPECT_EQ(s.checkpoint_key, "state_dict");
  EXPECT_EQ(s.amp.level, amp::OptLevel::kO2);
  EXPECT_EQ(s.preprocess.resize_size, 40);
  EXPECT_EQ(s.preprocess.crop_size, 32);
  EXPECT_EQ(s.preprocess.interpolation, data::Interpolation::kBicubic);
  EXPECT_FLOAT_EQ(s.preprocess.std[0], 0.25f);
  EXPECT_EQ(s.batching.max_batch_size, 16);
  EXPECT_EQ(s.batching.max_queue_delay_us, 0);
  EXPECT_EQ(s.batching.queue_size, 32);
  EXPECT_EQ(s.batching.request_timeout_ms, 100);
  EXPECT_EQ(s.source, (fs::path(dir) / "config.json").string());

  // Only the checkpoint given: everything else from the command line.
  std::string minimal = model("m", R"({"checkpoint": "model.pth"})");
  s = read_model_config(minimal, defaults_);
  EXPECT_EQ(s.name, "m");
  EXPECT_EQ(s.arch, "resnet50");
  EXPECT_EQ(s.batching.max_batch_size, 4);
  EXPECT_EQ(s.preprocess.resize_size, 256);  // the guide's
  EXPECT_EQ(s.preprocess.crop_size, 200);    // --crop-size
  EXPECT_EQ(s.preprocess.interpolation, data::Interpolation::kBilinear);
  EXPECT_EQ(s.labels, "");
}

TEST_F(ModelStore, PreprocessingStringsSelectABase) {
  // shufflenet_v2_x1_5's DEFAULT weights declare Resize(232) + CenterCrop(224).
  ModelSpec s = read_model_config(
      model("preset", R"({"checkpoint": "model.pth", "arch": "shufflenet_v2_x1_5",
                          "preprocessing": "model"})"),
      defaults_);
  EXPECT_EQ(s.preprocessing.base, app::PreprocessingBase::kModel);
  EXPECT_EQ(s.preprocess.resize_size, 232);
  EXPECT_EQ(s.preprocess.crop_size, 224);  // the preset's, not the command line's 200
  EXPECT_EQ(s.preprocess.interpolation, data::Interpolation::kBilinear);
  s = read_model_config(
      model("guide", R"({"checkpoint": "model.pth", "arch": "shufflenet_v2_x1_5",
                         "preprocessing": "guide"})"),
      defaults_);
  EXPECT_EQ(s.preprocess.resize_size, 256);
  EXPECT_EQ(s.preprocess.crop_size, 224);

  // The command line's --preprocessing model: resolved for each model's own arch; an object
  // replaces single fields of it.
  defaults_.preprocessing.base = app::PreprocessingBase::kModel;
  defaults_.preprocessing.overrides = {};
  s = read_model_config(model("inherit", R"({"checkpoint": "model.pth"})"), defaults_);
  EXPECT_EQ(s.preprocess.resize_size, 232);  // resnet50's IMAGENET1K_V2
  s = read_model_config(
      model("object", R"({"checkpoint": "model.pth", "arch": "shufflenet_v2_x0_5",
                          "preprocessing": {"crop_size": 100}})"),
      defaults_);
  EXPECT_EQ(s.preprocess.resize_size, 256);  // shufflenet_v2_x0_5's preset
  EXPECT_EQ(s.preprocess.crop_size, 100);
  EXPECT_EQ(s.preprocessing.base, app::PreprocessingBase::kModel);
}

TEST_F(ModelStore, ErrorsNameTheFileAndTheKey) {
  struct Case {
    const char* config;
    const char* key;  // must appear in the message, with the file
  };
  const Case cases[] = {
      {R"({"checkpoint": "model.pth", "bach": {}})", "\"bach\" is not a known key"},
      {R"({"checkpoint": "model.pth", "batching": {"max_batch": 2}})",
       "\"batching.max_batch\" is not a known key"},
      {R"({"checkpoint": "model.pth", "batching": {"max_batch_size": "8"}})",
       "\"batching.max_batch_size\" must be an integer >= 1, got \"8\""},
      {R"({"checkpoint": "model.pth", "batching": {"max_batch_size": 2.5}})",
       "\"batching.max_batch_size\" must be an integer"},
      {R"({"checkpoint": "model.pth", "batching": {"queue_size": 0}})", "\"batching.queue_size\""},
      {R"({"checkpoint": "model.pth", "batching": {"max_queue_delay_us": -1}})",
       "\"batching.max_queue_delay_us\" must be an integer >= 0"},
      {R"({"checkpoint": "model.pth", "batching": 8})", "\"batching\" must be an object"},
      {R"({"checkpoint": "model.pth", "preprocessing": {"mean": [1, 2]}})",
       "\"preprocessing.mean\" must be a list of 3 numbers"},
      {R"({"checkpoint": "model.pth", "preprocessing": {"std": [1, 0, 1]}})",
       "\"preprocessing.std\" must be a list of 3 numbers > 0"},
      {R"({"checkpoint": "model.pth", "preprocessing": {"crop_size": 0}})",
       "\"preprocessing.crop_size\" must be an integer >= 1"},
      {R"({"checkpoint": "model.pth", "preprocessing": {"interpolation": "nearest"}})",
       "\"preprocessing.interpolation\" must be bilinear or bicubic, got 'nearest'"},
      {R"({"checkpoint": "model.pth", "preprocessing": "preset"})",
       "\"preprocessing\" must be \"guide\", \"model\" or an object"},
      {R"({"checkpoint": "model.pth", "preprocessing": 3})",
       "\"preprocessing\" must be \"guide\", \"model\" or an object, got 3"},
      {R"({"checkpoint": "model.pth", "preprocessing": {"interpolation": 3}})",
       "\"preprocessing.interpolation\" must be a non-empty string, got 3"},
      {R"({"checkpoint": "model.pth", "arch": 18})", "\"arch\" must be a non-empty string"},
      {R"({"checkpoint": "model.pth", "arch": "resnet19"})",
       "\"arch\": unknown architecture 'resnet19'"},
      {R"({"checkpoint": "model.pth", "amp": "O5"})", "amp"},
      {R"({"checkpoint": "model.pth", "name": "other"})", "\"name\" is \"other\""},
      {R"({"arch": "resnet18"})", "\"checkpoint\" is missing"},
      {R"({"checkpoint": "missing.pth"})", "\"checkpoint\": file '"},
      {R"({"checkpoint": "model.pth", "labels": "nope.json"})", "\"labels\": file '"},
      {R"({"checkpoint": "model.pth",)", "invalid JSON"},
      {R"(["checkpoint"])", "expected a JSON object"},
  };
  int i = 0;
  for (const Case& c : cases) {
    std::string dir = model("m" + std::to_string(i++), c.config);
    std::string message = error_of(dir);
    EXPECT_NE(message.find((fs::path(dir) / "config.json").string()), std::string::npos)
        << c.config << " -> " << message;
    EXPECT_NE(message.find(c.key), std::string::npos) << c.config << " -> " << message;
  }
}

TEST_F(ModelStore, ScansFoldersSortedAndSkipsHiddenOnes) {
  model("b", R"({"checkpoint": "model.pth"})");
  model("a", R"({"checkpoint": "model.pth", "arch": "resnet18"})");
  fs::create_directories(root_ / ".cache");
  std::ofstream(root_ / "README") << "not a model";
  std::vector<ModelSpec> specs = read_model_store(root_.string(), defaults_);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].name, "a");
  EXPECT_EQ(specs[0].arch, "resnet18");
  EXPECT_EQ(specs[1].name, "b");
}

TEST_F(ModelStore, StoreErrorsNameTheFolder) {
  auto message = [&](const std::string& dir) -> std::string {
    try {
      read_model_store(dir, defaults_);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      return e.what();
    }
    ADD_FAILURE() << dir << " was accepted";
    return "";
  };
  EXPECT_NE(message((root_ / "none").string()).find("is not a directory"), std::string::npos);
  EXPECT_NE(message(root_.string()).find("holds no model folder"), std::string::npos);
  fs::create_directories(root_ / "empty");
  std::string m = message(root_.string());
  EXPECT_NE(m.find((root_ / "empty").string()), std::string::npos) << m;
  EXPECT_NE(m.find("has no config.json"), std::string::npos) << m;
  fs::remove_all(root_ / "empty");
  model("bad name", R"({"checkpoint": "model.pth"})");
  m = message(root_.string());
  EXPECT_NE(m.find("bad name"), std::string::npos) << m;
}

}  // namespace
}  // namespace ptinfer::serve
