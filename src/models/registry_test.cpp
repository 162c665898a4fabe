// The registry against torchvision: names, errors, heads and default-weights file names (the
// expected file names come from torchvision's <Arch>_Weights.DEFAULT via the fixture script).
#include "models/registry.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.h"

namespace ptinfer::models {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json read_fixture(const std::string& name) {
  const char* dir = std::getenv("PTINFER_FIXTURE_DIR");
  if (dir == nullptr) throw std::runtime_error("PTINFER_FIXTURE_DIR is not set (run via ctest)");
  const fs::path path = fs::path(dir) / "models" / name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture " + path.string());
  return json::parse(in);
}

TEST(Registry, ModelNamesAreSortedAndAreTorchvisionsResNets) {
  const auto names = model_names();
  EXPECT_EQ(names.size(), 10u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  auto expected = read_fixture("registry.json").at("archs").get<std::vector<std::string>>();
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(names, expected);
}

TEST(Registry, UnknownArchitectureListsTheKnownOnes) {
  for (auto call : {+[] { create_model("resnet0", 10); }, +[] { pretrained_file_name("vgg16"); },
                    +[] { head_weight_key(""); }}) {
    try {
      call();
      FAIL() << "no error for an unknown name";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
      const std::string msg = e.what();
      EXPECT_NE(msg.find("unknown architecture '"), std::string::npos) << msg;
      EXPECT_NE(msg.find("; known: resnet101, resnet152, resnet18, "), std::string::npos) << msg;
      for (const auto& name : model_names()) EXPECT_NE(msg.find(name), std::string::npos) << msg;
    }
  }
  try {
    create_model("resnet0", 10);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'resnet0'"), std::string::npos) << e.what();
  }
}

TEST(Registry, NumClassesSetsTheHead) {
  torch::manual_seed(0);
  for (int64_t n : {1, 3, 1000}) {
    auto model = create_model("resnet18", n);
    EXPECT_EQ(model->named_parameters()[head_weight_key("resnet18")].sizes().vec(),
              (std::vector<int64_t>{n, 512}));
    model->eval();
    torch::NoGradGuard no_grad;
    EXPECT_EQ(model->forward(torch::randn({2, 3, 40, 40})).sizes().vec(),
              (std::vector<int64_t>{2, n}));
  }
  auto bottleneck = create_model("resnext50_32x4d", 7);
  EXPECT_EQ(bottleneck->named_parameters()["fc.weight"].sizes().vec(),
            (std::vector<int64_t>{7, 2048}));
}

TEST(Registry, RejectsNonPositiveNumClasses) {
  for (int64_t n : {0, -1}) {
    try {
      create_model("resnet50", n);
      FAIL() << "num_classes " << n << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("num_classes"), std::string::npos) << e.what();
    }
  }
}

TEST(Registry, PretrainedFileNamesAreTorchvisionDefaults) {
  const json files = read_fixture("registry.json").at("pretrained_file_name");
  ASSERT_EQ(files.size(), model_names().size());
  for (const auto& name : model_names()) {
    EXPECT_EQ(pretrained_file_name(name), files.at(name).get<std::string>()) << name;
  }
}

TEST(Registry, HeadWeightKeyIsInTheStateDictWithNumClassesRows) {
  for (const auto& name : model_names()) {
    const json index = read_fixture(name + ".json");
    const std::string key = head_weight_key(name);
    bool found = false;
    for (const auto& e : index.at("state_dict")) {
      if (e.at("name") == key) {
        found = true;
        EXPECT_EQ(e.at("shape").at(0).get<int64_t>(), index.at("num_classes").get<int64_t>())
            << name;
      }
    }
    EXPECT_TRUE(found) << name << ": " << key;
  }
}

}  // namespace
}  // namespace ptinfer::models
