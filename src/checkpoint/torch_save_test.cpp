// save_torch_file read back by our own reader (Python's torch.load reads the same files in
// tests/e2e/test_finetune.py).
#include "checkpoint/torch_save.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "checkpoint/checkpoint.h"
#include "checkpoint/checkpoint_test_util.h"
#include "common/scoped_temp_dir.h"

namespace ptinfer::checkpoint {
namespace {

namespace fs = std::filesystem;

// One scratch folder for the test program, removed when it exits.
fs::path temp_dir() {
  static const ScopedTempDir scratch("ptinfer_torch_save_");
  return scratch.path();
}

TEST(TorchSaveTest, GuideCheckpointReadsBack) {
  torch::manual_seed(3);
  StateDict sd = {{"conv.weight", torch::randn({4, 3, 3, 3})},
                  {"bn.running_mean", torch::randn({4})},
                  {"bn.num_batches_tracked", torch::tensor(int64_t{7})},
                  {"fc.weight", torch::randn({5, 4}).to(torch::kBFloat16)},
                  {"fc.bias", torch::randn({10}).slice(0, 2, 7)},      // a view: its 5 elements
                  {"mask", torch::tensor({true, false, true})},
                  {"big", torch::arange(300, torch::kLong) * int64_t{10000000000}}};
  PyValue state = PyValue::ordered_dict();
  for (const auto& [name, t] : sd) state.set(name, PyValue::from_tensor(t));
  PyValue optimizer = PyValue::dict();
  optimizer.set("state", PyValue::dict().set(PyValue::integer(0), PyValue::dict()));
  optimizer.set("param_groups",
                PyValue::list({PyValue::dict()
                                   .set("lr", PyValue::real(0.25))
                                   .set("nesterov", PyValue::boolean(false))
                                   .set("foreach", PyValue::none())
                                   .set("params", PyValue::list({PyValue::integer(-70000)}))}));
  PyValue root = PyValue::dict();
  root.set("epoch", PyValue::integer(300))
      .set("arch", PyValue::str("resnet18"))
      .set("state_dict", state)
      .set("best_acc1", PyValue::from_tensor(torch::tensor(12.5f)))
      .set("optimizer", optimizer);
  fs::path path = temp_dir() / "ckpt.pth.tar";
  save_torch_file(path.string(), root);

  Checkpoint ckpt = load_checkpoint(path.string());
  EXPECT_EQ(ckpt.format, "zip");
  EXPECT_EQ(ckpt.state_dict_key, "state_dict");
  EXPECT_EQ(ckpt.top_level_keys,
            (std::vector<std::string>{"epoch", "arch", "state_dict", "best_acc1", "optimizer"}));
  EXPECT_EQ(ckpt.epoch, 300);
  EXPECT_EQ(ckpt.arch, "resnet18");
  EXPECT_EQ(ckpt.best_acc1, 12.5);
  ASSERT_EQ(ckpt.state_dict.size(), sd.size());
  for (size_t k = 0; k < sd.size(); ++k) {
    EXPECT_EQ(ckpt.state_dict[k].first, sd[k].first);
    const torch::Tensor& got = ckpt.state_dict[k].second;
    EXPECT_EQ(got.scalar_type(), sd[k].second.scalar_type()) << sd[k].first;
    EXPECT_EQ(got.sizes(), sd[k].second.sizes()) << sd[k].first;
    EXPECT_TRUE(torch::equal(got, sd[k].second)) << sd[k].first;
  }
  fs::remove_all(path.parent_path());
}

TEST(TorchSaveTest, UnwritablePathLeavesNothing) {
  fs::path dir = temp_dir() / "unwritable";
  fs::create_directories(dir);
  PyValue root = PyValue::dict().set("w", PyValue::from_tensor(torch::ones({3})));
  std::string missing = (dir / "no_such_dir" / "out.pth").string();
  std::string msg = testing::expect_error(ErrorKind::kInvalidArgument,
                                          [&] { save_torch_file(missing, root); });
  EXPECT_NE(msg.find(missing), std::string::npos) << msg;
  // A directory as the destination: the temp file is written, the rename fails and is cleaned.
  fs::create_directories(dir / "a_dir.pth");
  testing::expect_error(ErrorKind::kInvalidArgument,
                        [&] { save_torch_file((dir / "a_dir.pth").string(), root); });
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.path().filename() != "a_dir.pth";
  EXPECT_EQ(entries, 0u);
  fs::remove_all(dir.parent_path());
}

TEST(TorchSaveTest, PickleIsProtocol2WithPersistentStorages) {
  std::vector<torch::Tensor> storages;
  std::string p = pickle_value(PyValue::dict().set("t", PyValue::from_tensor(torch::zeros({2}))),
                               &storages);
  ASSERT_GE(p.size(), 3u);
  EXPECT_EQ(p.substr(0, 2), std::string("\x80\x02"));
  EXPECT_EQ(p.back(), '.');
  EXPECT_NE(p.find("torch._utils\n_rebuild_tensor_v2\n"), std::string::npos);
  EXPECT_NE(p.find("torch\nFloatStorage\n"), std::string::npos);
  EXPECT_EQ(storages.size(), 1u);
  std::vector<torch::Tensor> s2;
  testing::expect_error(ErrorKind::kUnsupported, [&] {
    pickle_value(PyValue::from_tensor(torch::zeros({2}, torch::kComplexFloat)), &s2);
  });
}

}  // namespace
}  // namespace ptinfer::checkpoint
