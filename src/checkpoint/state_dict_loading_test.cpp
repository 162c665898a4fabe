#include "checkpoint/checkpoint.h"
#include "checkpoint/checkpoint_test_util.h"

namespace ptinfer::checkpoint {
namespace {

using testing::expect_error;
using testing::expect_values;
using testing::fixture_path;
using testing::manifest;

// The C++ twin of TinyNet in make_checkpoint_fixtures.py: same attribute names, same shapes.
struct TinyNetImpl : torch::nn::Module {
  TinyNetImpl() {
    conv1 =
        register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 3).bias(false)));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(4));
    layer1 = register_module(
        "layer1", torch::nn::Sequential(torch::nn::Conv2d(4, 4, 1), torch::nn::BatchNorm2d(4)));
    fc = register_module("fc", torch::nn::Linear(4, 3));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(bn1->forward(conv1->forward(x)));
    x = layer1->forward(x);
    return fc->forward(x.mean({2, 3}));
  }
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(TinyNet);

std::map<std::string, torch::Tensor> model_tensors(torch::nn::Module& m) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : m.named_parameters()) out[p.key()] = p.value();
  for (const auto& b : m.named_buffers()) out[b.key()] = b.value();
  return out;
}

// Loads `file` into a fresh float32 TinyNet and checks every parameter and buffer against
// the values torch.load read, converted to the model's dtype as PyTorch's copy_ does.
void expect_loads(const std::string& file) {
  SCOPED_TRACE(file);
  ASSERT_TRUE(manifest().contains(file));
  TinyNet net;
  Checkpoint ckpt = load_checkpoint(fixture_path(file));
  load_state_dict_strict(*net, ckpt.state_dict);
  auto tensors = model_tensors(*net);
  const nlohmann::json& expected = manifest()[file]["tensors"];
  ASSERT_EQ(tensors.size(), expected.size());
  for (const nlohmann::json& t : expected) {
    const std::string name = t["name"];
    ASSERT_EQ(tensors.count(name), 1u) << name;
    const torch::Tensor& got = tensors[name];
    // Model dtypes stay: float32 parameters, int64 num_batches_tracked.
    EXPECT_EQ(got.scalar_type(),
              name.find("num_batches") != std::string::npos ? torch::kLong : torch::kFloat)
        << name;
    expect_values(got, t["values"], name);  // fp16 -> fp32 is exact, so values compare equal
  }
}

TEST(StateDictLoadingTest, LoadsBareStateDict) { expect_loads("bare_state_dict.pth"); }

TEST(StateDictLoadingTest, LoadsTrainingCheckpointWithoutModulePrefix) {
  expect_loads("training.pth.tar");
}

TEST(StateDictLoadingTest, LoadsFp16WeightsIntoFp32Model) { expect_loads("fp16_weights.pth"); }

// Apex O2: fp16 weights with fp32 BatchNorm load into the fp32 model (cast as PyTorch's
// load_state_dict casts) and give the logits PyTorch computed with that model.
TEST(StateDictLoadingTest, ApexO2CheckpointGivesPyTorchsLogits) {
  expect_loads("apex_o2.pth.tar");
  const nlohmann::json& entry = manifest()["apex_o2.pth.tar"];
  TinyNet net;
  load_state_dict_strict(*net, load_checkpoint(fixture_path("apex_o2.pth.tar")).state_dict);
  net->eval();
  const nlohmann::json& in = entry["input"];
  std::vector<float> values;
  for (const auto& v : in["values"]) values.push_back(v.get<float>());
  torch::Tensor x = torch::tensor(values).reshape(in["shape"].get<std::vector<int64_t>>());
  torch::NoGradGuard no_grad;
  torch::Tensor logits = net->forward(x);
  std::vector<double> want = entry["logits"]["values"].get<std::vector<double>>();
  torch::Tensor expected = torch::tensor(want, torch::kDouble).reshape(logits.sizes());
  EXPECT_TRUE(torch::allclose(logits.to(torch::kDouble), expected, 1e-6, 1e-6))
      << logits << expected;
}

// A TorchScript archive's weights, read as data, load into the native twin.
TEST(StateDictLoadingTest, LoadsTorchScriptWeights) {
  expect_loads("torchscript.pt");
  expect_loads("traced.pt");
}

TEST(StateDictLoadingTest, ReportsMissingUnexpectedAndMisshapedKeysTogether) {
  StateDict sd = load_checkpoint(fixture_path("bare_state_dict.pth")).state_dict;
  StateDict broken;
  for (auto& [name, tensor] : sd) {
    if (name == "fc.bias" || name == "bn1.running_var") continue;  // missing
    if (name == "fc.weight") tensor = torch::zeros({10, 4});       // wrong shape
    broken.emplace_back(name, tensor);
  }
  broken.emplace_back("extra.weight", torch::zeros({2}));  // unexpected

  TinyNet net;
  auto before = model_tensors(*net);
  for (auto& [name, t] : before) t = t.clone();
  std::string msg =
      expect_error(ErrorKind::kInvalidArgument, [&] { load_state_dict_strict(*net, broken); });
  EXPECT_NE(msg.find("missing keys: bn1.running_var, fc.bias"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unexpected keys: extra.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("shape mismatch: fc.weight: checkpoint [10, 4] vs model [3, 4]"),
            std::string::npos)
      << msg;
  // Nothing was copied.
  for (const auto& [name, t] : model_tensors(*net)) {
    EXPECT_TRUE(torch::equal(t, before[name])) << name;
  }
}

TEST(StateDictLoadingTest, ExactMatchIsRequiredEvenForOneKey) {
  StateDict sd = load_checkpoint(fixture_path("bare_state_dict.pth")).state_dict;
  sd.pop_back();
  TinyNet net;
  std::string msg =
      expect_error(ErrorKind::kInvalidArgument, [&] { load_state_dict_strict(*net, sd); });
  EXPECT_EQ(msg, "state dict does not match the model: missing keys: fc.bias");
}

}  // namespace
}  // namespace ptinfer::checkpoint
