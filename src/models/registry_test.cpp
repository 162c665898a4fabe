// The registry against torchvision: names, errors, heads, parameter counts, default-weights file
// names and presets (the expected values come from torchvision's <Arch>_Weights.DEFAULT via the
// fixture script).
#include "models/registry.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "models/arch_spec.h"

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

// zoo.txt's families and architectures, as "family: arch arch ..." lines.
std::map<std::string, std::string> zoo_families() {
  const char* dir = std::getenv("PTINFER_SOURCE_DIR");
  if (dir == nullptr) throw std::runtime_error("PTINFER_SOURCE_DIR is not set (run via ctest)");
  std::ifstream in(fs::path(dir) / "src/models/zoo.txt");
  if (!in) throw std::runtime_error("missing src/models/zoo.txt");
  std::map<std::string, std::string> family_of;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    std::string family, arch;
    words >> family;
    family.pop_back();  // the ':'
    while (words >> arch) family_of[arch] = family;
  }
  return family_of;
}

TEST(Registry, ModelNamesAreSortedTorchvisionNamesAndZooTxtLists) {
  const auto names = model_names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  const auto torchvision = read_fixture("registry.json").at("archs").get<std::vector<std::string>>();
  for (const auto& name : names) {
    EXPECT_NE(std::find(torchvision.begin(), torchvision.end(), name), torchvision.end())
        << name << " is not a torchvision classification model";
  }
  // zoo.txt (the list CMake registers parity tests from) is exactly the table, by family.
  const auto zoo = zoo_families();
  EXPECT_EQ(zoo.size(), names.size());
  for (const auto& name : names) {
    ASSERT_TRUE(zoo.count(name)) << name << " is not in zoo.txt";
    EXPECT_EQ(zoo.at(name), arch_spec(name).family) << name;
  }
  for (const auto& [arch, family] : zoo) {
    EXPECT_EQ(family_archs(family).size(),
              static_cast<size_t>(std::count_if(zoo.begin(), zoo.end(), [&](const auto& e) {
                return e.second == family;
              })))
        << family;
  }
  std::cout << names.size() << " of torchvision's " << torchvision.size()
            << " classification models are in the registry\n";
}

TEST(Registry, UnknownArchitectureListsTheKnownOnes) {
  for (auto call : {+[] { create_model("resnet0", 10); }, +[] { pretrained_file_name("vgg0"); },
                    +[] { head_weight_key(""); }, +[] { arch_spec("x"); }}) {
    try {
      call();
      FAIL() << "no error for an unknown name";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
      const std::string msg = e.what();
      EXPECT_NE(msg.find("unknown architecture '"), std::string::npos) << msg;
      EXPECT_NE(msg.find("; known: " + model_names().front() + ", "), std::string::npos) << msg;
      for (const auto& name : model_names()) EXPECT_NE(msg.find(name), std::string::npos) << msg;
    }
  }
  try {
    create_model("resnet0", 10);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'resnet0'"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(family_archs("no such family").empty());
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

// File names, presets: what torchvision's <Arch>_Weights.DEFAULT declares.
TEST(Registry, PretrainedFilesAndPresetsAreTorchvisionDefaults) {
  const json specs = read_fixture("registry.json").at("specs");
  for (const auto& name : model_names()) {
    const json& want = specs.at(name);
    const ArchSpec& spec = arch_spec(name);
    EXPECT_EQ(pretrained_file_name(name), want.at("pretrained_file_name").get<std::string>())
        << name;
    const json& preset = want.at("preset");
    EXPECT_EQ(spec.preset.resize_size, preset.at("resize_size").get<int64_t>()) << name;
    EXPECT_EQ(spec.preset.crop_size, preset.at("crop_size").get<int64_t>()) << name;
    EXPECT_EQ(spec.preset.interpolation, preset.at("interpolation").get<std::string>()) << name;
    for (int c = 0; c < 3; ++c) {
      EXPECT_EQ(spec.preset.mean[c], preset.at("mean").at(c).get<double>()) << name;
      EXPECT_EQ(spec.preset.std[c], preset.at("std").at(c).get<double>()) << name;
    }
  }
}

// The 1000-class model built for torchvision's DEFAULT weights (ModelConfig::pretrained, as
// torchvision's builder with weights=...: vit_h_14's positional embedding for 518-pixel inputs)
// has the parameter count those weights declare, leaving out the parameters that builder drops
// (ArchSpec::uncounted_prefixes: googlenet's auxiliary heads, which the registry's googlenet
// keeps, as googlenet() without weights and torchvision's checkpoint have them).
TEST(Registry, ParameterCountsAreTorchvisions) {
  const json specs = read_fixture("registry.json").at("specs");
  ModelConfig config;
  config.num_classes = 1000;
  config.init = Init::kSkip;
  config.pretrained = true;
  for (const auto& name : model_names()) {
    int64_t counted = 0, uncounted = 0;
    for (const auto& p : create_model(name, config)->named_parameters()) {
      bool dropped = false;
      for (const auto& prefix : arch_spec(name).uncounted_prefixes) {
        dropped = dropped || p.key().rfind(prefix, 0) == 0;
      }
      (dropped ? uncounted : counted) += p.value().numel();
    }
    EXPECT_EQ(counted, specs.at(name).at("num_params").get<int64_t>()) << name;
    // The prefixes name modules that exist: otherwise they would hide a missing one.
    if (!arch_spec(name).uncounted_prefixes.empty()) {
      EXPECT_GT(uncounted, 0) << name;
    }
  }
}

}  // namespace
}  // namespace ptinfer::models
