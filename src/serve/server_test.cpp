#include "serve/model_spec.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace ptinfer::serve {
namespace {

TEST(ParseModelSpec, NameCheckpointAndKeys) {
  ModelSpec defaults;
  defaults.arch = "resnet50";
  defaults.batching.max_batch_size = 3;
  defaults.preprocessing.overrides.crop_size = 99;
  ModelSpec s = parse_model_spec("r18=/m/a.pth", defaults);
  EXPECT_EQ(s.name, "r18");
  EXPECT_EQ(s.checkpoint, "/m/a.pth");
  EXPECT_EQ(s.arch, "resnet50");
  EXPECT_EQ(s.labels, "");
  EXPECT_EQ(s.batching.max_batch_size, 3);  // the command line's flags
  EXPECT_EQ(s.preprocess.crop_size, 99);
  EXPECT_EQ(s.source, "--model r18");
  s = parse_model_spec("my-model.v1=a.pth,arch=resnet18,labels=idx.json", defaults);
  EXPECT_EQ(s.name, "my-model.v1");
  EXPECT_EQ(s.arch, "resnet18");
  EXPECT_EQ(s.labels, "idx.json");
  EXPECT_EQ(s.preprocess.crop_size, 99);
}

TEST(ParseModelSpec, PreprocessingModelTakesEachArchsPreset) {
  ModelSpec defaults;
  defaults.arch = "resnet50";
  defaults.preprocessing.base = app::PreprocessingBase::kModel;
  EXPECT_EQ(parse_model_spec("a=a.pth", defaults).preprocess.resize_size, 232);  // V2 weights
  ModelSpec s = parse_model_spec("b=b.pth,arch=resnet18", defaults);
  EXPECT_EQ(s.preprocess.resize_size, 256);
  EXPECT_EQ(s.preprocess.crop_size, 224);
  defaults.arch = "resnet19";
  try {
    parse_model_spec("c=c.pth", defaults);
    ADD_FAILURE() << "resnet19 resolved";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("--model c: "), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("resnet19"), std::string::npos) << e.what();
  }
}

TEST(ParseModelSpec, BadValuesAreNamed) {
  ModelSpec defaults;
  for (const char* bad : {"noequals", "=a.pth", "a b=x.pth",
                          "m=", "m=a.pth,arch=", "m=a.pth,color=red", "m/x=a.pth"}) {
    try {
      parse_model_spec(bad, defaults);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(ValidModelName, LettersDigitsAndPunctuation) {
  EXPECT_TRUE(valid_model_name("a-b_c.1"));
  EXPECT_FALSE(valid_model_name(""));
  EXPECT_FALSE(valid_model_name("a/b"));
  EXPECT_FALSE(valid_model_name("a b"));
}

}  // namespace
}  // namespace ptinfer::serve
