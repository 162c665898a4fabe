#include "checkpoint/checkpoint.h"

#include <filesystem>

#include "checkpoint/checkpoint_test_util.h"

namespace ptinfer::checkpoint {
namespace {

using testing::dtype_from_name;
using testing::expect_error;
using testing::expect_values;
using testing::fixture_path;
using testing::manifest;

// The state dict equals what torch.load read: names in order, shapes, strides, dtypes, values.
void expect_matches_manifest(const std::string& file) {
  SCOPED_TRACE(file);
  ASSERT_TRUE(manifest().contains(file)) << "manifest lacks " << file;
  const nlohmann::json& expected = manifest()[file];
  Checkpoint ckpt = load_checkpoint(fixture_path(file));
  const nlohmann::json& tensors = expected["tensors"];
  ASSERT_EQ(ckpt.state_dict.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, tensor] = ckpt.state_dict[i];
    const nlohmann::json& t = tensors[i];
    EXPECT_EQ(name, t["name"].get<std::string>());
    EXPECT_EQ(tensor.sizes().vec(), t["shape"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(tensor.strides().vec(), t["stride"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(tensor.storage_offset(), t["storage_offset"].get<int64_t>()) << name;
    EXPECT_EQ(tensor.scalar_type(), dtype_from_name(t["dtype"])) << name;
    EXPECT_TRUE(tensor.device().is_cpu());
    expect_values(tensor, t["values"], name);
  }
  EXPECT_EQ(ckpt.epoch.has_value(), expected.contains("epoch"));
  if (expected.contains("epoch")) {
    EXPECT_EQ(*ckpt.epoch, expected["epoch"].get<int64_t>());
  }
  EXPECT_EQ(ckpt.arch.has_value(), expected.contains("arch"));
  if (expected.contains("arch")) {
    EXPECT_EQ(*ckpt.arch, expected["arch"].get<std::string>());
  }
  EXPECT_EQ(ckpt.best_acc1.has_value(), expected.contains("best_acc1"));
  if (expected.contains("best_acc1")) {
    EXPECT_EQ(*ckpt.best_acc1, expected["best_acc1"].get<double>());
  }
  EXPECT_EQ(ckpt.classes, expected.value("classes", std::vector<std::string>{}));
  EXPECT_EQ(ckpt.other_keys, expected.value("other_keys", std::vector<std::string>{}));
}

TEST(CheckpointTest, BareStateDictWithMetadata) { expect_matches_manifest("bare_state_dict.pth"); }

TEST(CheckpointTest, TrainingCheckpointWithDataParallelKeysAndOptimizer) {
  expect_matches_manifest("training.pth.tar");
  Checkpoint ckpt = load_checkpoint(fixture_path("training.pth.tar"));
  for (const auto& entry : ckpt.state_dict) {
    EXPECT_NE(entry.first.rfind("module.", 0), 0u) << entry.first;
  }
  EXPECT_EQ(ckpt.arch, "resnet18");
  EXPECT_EQ(ckpt.other_keys, std::vector<std::string>{"optimizer"});
}

TEST(CheckpointTest, ModelKeyWithClassesAndNestedExtras) {
  expect_matches_manifest("model_key.pth");
}

TEST(CheckpointTest, EveryDtype) { expect_matches_manifest("dtypes.pth"); }

TEST(CheckpointTest, SharedStorageViewsKeepOffsetsAndStrides) {
  expect_matches_manifest("shared_views.pth");
  Checkpoint ckpt = load_checkpoint(fixture_path("shared_views.pth"));
  ASSERT_EQ(ckpt.state_dict.size(), 4u);
  const torch::Tensor& a = ckpt.state_dict[0].second;
  for (size_t i = 1; i < 4; ++i) {  // as torch.load: views of one storage, not copies
    EXPECT_TRUE(ckpt.state_dict[i].second.is_alias_of(a)) << ckpt.state_dict[i].first;
  }
}

TEST(CheckpointTest, Fp16Weights) { expect_matches_manifest("fp16_weights.pth"); }

TEST(CheckpointTest, MissingFileIsNotFound) {
  std::string msg =
      expect_error(ErrorKind::kNotFound, [] { load_checkpoint(fixture_path("no_such_file.pth")); });
  EXPECT_NE(msg.find("no_such_file.pth"), std::string::npos) << msg;
  expect_error(ErrorKind::kNotFound, [] { load_checkpoint(fixture_path("")); });  // a directory
}

TEST(CheckpointTest, BrokenFilesAreCorruptData) {
  struct Case {
    std::string file, needle;
  };
  const std::vector<Case> cases = {
      {"empty.pth", "empty"},
      {"text.pth", "not a zip"},
      {"truncated.pth", "truncated"},
      {"bad_opcode.pth", "unknown opcode 0xff"},
      {"missing_storage.pth", "data/0"},
      {"short_storage.pth", "data/0"},
  };
  for (const Case& c : cases) {
    std::string path = fixture_path(c.file);
    std::string msg = expect_error(ErrorKind::kCorruptData, [&] { load_checkpoint(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.needle), std::string::npos) << msg;
  }
}

TEST(CheckpointTest, LegacyFormatAndBarePicklesAreUnsupported) {
  std::string msg =
      expect_error(ErrorKind::kUnsupported, [] { load_checkpoint(fixture_path("legacy.pth")); });
  EXPECT_NE(msg.find("legacy (pre-1.6) format"), std::string::npos) << msg;
  expect_error(ErrorKind::kUnsupported, [] { load_checkpoint(fixture_path("bare_pickle.pkl")); });
}

TEST(CheckpointTest, MaliciousPickleIsRefusedWithoutRunningIt) {
  ASSERT_TRUE(manifest().contains("malicious.pth"));
  const std::string marker = manifest()["malicious.pth"]["marker"];
  ASSERT_FALSE(std::filesystem::exists(marker));
  std::string msg =
      expect_error(ErrorKind::kUnsupported, [] { load_checkpoint(fixture_path("malicious.pth")); });
  EXPECT_TRUE(msg.find("'posix.system'") != std::string::npos ||
              msg.find("'os.system'") != std::string::npos)
      << msg;
  EXPECT_NE(msg.find("malicious.pth"), std::string::npos) << msg;
  EXPECT_FALSE(std::filesystem::exists(marker));
}

}  // namespace
}  // namespace ptinfer::checkpoint
