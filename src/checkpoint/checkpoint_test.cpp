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
void expect_matches_manifest(const std::string& file, const std::string& key = "") {
  const std::string entry = key.empty() ? file : file + ":" + key;
  SCOPED_TRACE(entry);
  ASSERT_TRUE(manifest().contains(entry)) << "manifest lacks " << entry;
  const nlohmann::json& expected = manifest()[entry];
  LoadOptions options;
  options.checkpoint_key = key;
  Checkpoint ckpt = load_checkpoint(fixture_path(file), options);
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

// torch.save's storages become tensors over a copy-on-write map of the file: writing to one
// changes neither the file nor a later load, and the tensors outlive the reader.
TEST(CheckpointTest, MappedStoragesAreCopyOnWrite) {
  const std::string path = fixture_path("bare_state_dict.pth");
  const auto size_before = std::filesystem::file_size(path);
  {
    Checkpoint ckpt = load_checkpoint(path);
    ASSERT_FALSE(ckpt.state_dict.empty());
    for (auto& entry : ckpt.state_dict) {
      if (entry.second.is_floating_point()) entry.second.fill_(42.0);
    }
    EXPECT_EQ(ckpt.state_dict.front().second.flatten()[0].item<double>(), 42.0);
  }
  EXPECT_EQ(std::filesystem::file_size(path), size_before);
  expect_matches_manifest("bare_state_dict.pth");
}

// Records that torch.save would have aligned but another zip writer did not: read through
// LibTorch's buffer instead of the map, with the same values.
TEST(CheckpointTest, UnalignedStorageRecordsMatchTorchLoad) {
  expect_matches_manifest("unaligned_storage.pth");
}

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
      {"storage_past_end.pth", "'data/0' runs past the end of the file"},
      {"zip_bomb.pth", "is compressed"},
      {"lying_size.pth", "not a readable torch.save zip"},  // miniz checks stored sizes
      // LibTorch's reader would allocate this one (4 GiB) as it opens the archive.
      {"lying_version_size.pth", "version' declares 4294967295 bytes"},
      // What LibTorch's reader would refuse only after opening the archive (leaking miniz's
      // state), refused before it.
      {"empty_zip.pth", "an empty zip archive"},
      {"no_folder.pth", "is not in a folder"},
      {"other_folder.pth", "missing record 'small/version'"},
      {"no_version.pth", "missing record 'small/version'"},
      {"version_not_a_number.pth", "'small/version' is not a version number"},
  };
  for (const Case& c : cases) {
    std::string path = fixture_path(c.file);
    std::string msg = expect_error(ErrorKind::kCorruptData, [&] { load_checkpoint(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.needle), std::string::npos) << msg;
  }
}

TEST(CheckpointTest, BarePicklesAreUnsupported) {
  expect_error(ErrorKind::kUnsupported, [] { load_checkpoint(fixture_path("bare_pickle.pkl")); });
}

TEST(CheckpointTest, FormatVersionsLibTorchCannotReadAreUnsupported) {
  for (const std::string file : {"version_99.pth", "version_0.pth"}) {
    const std::string path = fixture_path(file);
    std::string msg = expect_error(ErrorKind::kUnsupported, [&] { load_checkpoint(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("format version " + file.substr(8, file.size() - 12)), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("this LibTorch reads versions"), std::string::npos) << msg;
  }
}

TEST(CheckpointTest, ReportsFormatKeyAndStrippedPrefixes) {
  Checkpoint zip = load_checkpoint(fixture_path("training.pth.tar"));
  EXPECT_EQ(zip.format, "zip");
  EXPECT_EQ(zip.state_dict_key, "state_dict");
  EXPECT_EQ(zip.stripped_prefixes, std::vector<std::string>{"module."});
  EXPECT_EQ(zip.top_level_keys,
            (std::vector<std::string>{"epoch", "arch", "state_dict", "best_acc1", "optimizer"}));
  Checkpoint legacy = load_checkpoint(fixture_path("legacy.pth"));
  EXPECT_EQ(legacy.format, "legacy");
  EXPECT_EQ(legacy.state_dict_key, "");
}

// The legacy (non-zip) format, written by torch.save(..., _use_new_zipfile_serialization=False).
TEST(LegacyFormatTest, MatchesTorchLoad) {
  for (const char* file : {"legacy.pth", "legacy_training.pth.tar", "legacy_fp16.pth",
                           "legacy_dtypes.pth", "legacy_handmade.pth"}) {
    expect_matches_manifest(file);
  }
}

TEST(LegacyFormatTest, SharedStorageViewsStayViews) {
  expect_matches_manifest("legacy_shared_views.pth");
  Checkpoint ckpt = load_checkpoint(fixture_path("legacy_shared_views.pth"));
  ASSERT_EQ(ckpt.state_dict.size(), 4u);
  for (size_t i = 1; i < 4; ++i) {
    EXPECT_TRUE(ckpt.state_dict[i].second.is_alias_of(ckpt.state_dict[0].second));
  }
}

TEST(LegacyFormatTest, TruncatedFilesAreCorruptData) {
  for (const auto& file : manifest()["legacy_cuts"]) {
    std::string path = fixture_path(file.get<std::string>());
    SCOPED_TRACE(path);
    std::string msg = expect_error(ErrorKind::kCorruptData, [&] { load_checkpoint(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  }
}

TEST(LegacyFormatTest, LyingSizesAreRefusedBeforeAllocating) {
  std::string msg = expect_error(ErrorKind::kCorruptData,
                                 [] { load_checkpoint(fixture_path("legacy_huge_claim.pth")); });
  EXPECT_NE(msg.find("claims 1000000000000 elements"), std::string::npos) << msg;
  msg = expect_error(ErrorKind::kCorruptData,
                     [] { load_checkpoint(fixture_path("legacy_size_mismatch.pth")); });
  EXPECT_NE(msg.find("holds 5 elements, the pickle says 6"), std::string::npos) << msg;
}

// Wrappers: timm's default order (EMA first), an explicit key, and wrapper prefixes.
TEST(CheckpointWrappersTest, DefaultPicksAsTimm) {
  for (const char* file :
       {"ema.pth", "model_ema.pth", "ema_none.pth", "compiled.pth", "ddp_compiled.pth"}) {
    expect_matches_manifest(file);
  }
  EXPECT_EQ(load_checkpoint(fixture_path("ema.pth")).state_dict_key, "state_dict_ema");
  EXPECT_EQ(load_checkpoint(fixture_path("model_ema.pth")).state_dict_key, "model_ema");
  EXPECT_EQ(load_checkpoint(fixture_path("ema_none.pth")).state_dict_key, "model");
  EXPECT_EQ(load_checkpoint(fixture_path("ddp_compiled.pth")).stripped_prefixes,
            (std::vector<std::string>{"module.", "_orig_mod."}));
}

TEST(CheckpointWrappersTest, ExplicitKey) {
  expect_matches_manifest("ema.pth", "state_dict");
  LoadOptions options;
  options.checkpoint_key = "nope";
  std::string msg = expect_error(ErrorKind::kInvalidArgument,
                                 [&] { load_checkpoint(fixture_path("ema.pth"), options); });
  EXPECT_NE(msg.find("'nope' is absent"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'state_dict_ema' (dict)"), std::string::npos) << msg;
  options.checkpoint_key = "epoch";
  expect_error(ErrorKind::kInvalidArgument,
               [&] { load_checkpoint(fixture_path("ema.pth"), options); });
}

TEST(CheckpointWrappersTest, ApexO2AmpEntryIsRead) {
  expect_matches_manifest("apex_o2.pth.tar");  // fp16 weights, fp32 BatchNorm, as saved
  Checkpoint ckpt = load_checkpoint(fixture_path("apex_o2.pth.tar"));
  const nlohmann::json& amp = manifest()["apex_o2.pth.tar"]["amp"];
  ASSERT_EQ(ckpt.amp.size(), amp.size());
  for (const AmpLossScaler& s : ckpt.amp) {
    ASSERT_TRUE(amp.contains(s.name)) << s.name;
    EXPECT_EQ(*s.loss_scale, amp[s.name]["loss_scale"].get<double>());
    EXPECT_EQ(*s.unskipped, amp[s.name]["unskipped"].get<int64_t>());
  }
}

// TorchScript archives (scripted and traced) read as data: the module tree's tensors in
// state_dict() order, its class; nothing of the archive's code runs.
TEST(TorchScriptReadingTest, TensorsAndClassAsTorchJitLoadSees) {
  for (const char* file : {"torchscript.pt", "traced.pt"}) {
    SCOPED_TRACE(file);
    const nlohmann::json& expected = manifest()[file];
    EXPECT_EQ(detect_format(fixture_path(file)), "torchscript");
    Checkpoint ckpt = load_checkpoint(fixture_path(file));
    EXPECT_EQ(ckpt.format, "torchscript");
    EXPECT_EQ(ckpt.script_class, expected["class"].get<std::string>());
    const nlohmann::json& tensors = expected["tensors"];
    ASSERT_EQ(ckpt.state_dict.size(), tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
      const auto& [name, tensor] = ckpt.state_dict[i];
      EXPECT_EQ(name, tensors[i]["name"].get<std::string>());
      EXPECT_EQ(tensor.scalar_type(), dtype_from_name(tensors[i]["dtype"])) << name;
      EXPECT_EQ(tensor.sizes().vec(), tensors[i]["shape"].get<std::vector<int64_t>>()) << name;
      expect_values(tensor, tensors[i]["values"], name);
    }
  }
  EXPECT_EQ(detect_format(fixture_path("training.pth.tar")), "zip");
  EXPECT_EQ(detect_format(fixture_path("legacy.pth")), "legacy");
}

TEST(TorchScriptReadingTest, HostileDataPickleAndCheckpointKeyAreRefused) {
  std::string msg = expect_error(ErrorKind::kUnsupported,
                                 [] { load_checkpoint(fixture_path("torchscript_evil.pt")); });
  EXPECT_TRUE(msg.find("'posix.system'") != std::string::npos ||
              msg.find("'os.system'") != std::string::npos)
      << msg;
  EXPECT_NE(msg.find("torchscript_evil.pt"), std::string::npos) << msg;
  LoadOptions options;
  options.checkpoint_key = "state_dict";
  msg = expect_error(ErrorKind::kInvalidArgument,
                     [&] { load_checkpoint(fixture_path("torchscript.pt"), options); });
  EXPECT_NE(msg.find("TorchScript"), std::string::npos) << msg;
}

TEST(CheckpointWrappersTest, NamespaceNumpyDeviceSetsAreData) {
  expect_matches_manifest("extras.pth");
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
