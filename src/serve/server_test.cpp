#include "serve/server.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace ptinfer::serve {
namespace {

TEST(ParseModelSpec, NameCheckpointAndKeys) {
  ModelSpec s = parse_model_spec("r18=/m/a.pth", "resnet50");
  EXPECT_EQ(s.name, "r18");
  EXPECT_EQ(s.checkpoint, "/m/a.pth");
  EXPECT_EQ(s.arch, "resnet50");
  EXPECT_EQ(s.labels, "");
  s = parse_model_spec("my-model.v1=a.pth,arch=resnet18,labels=idx.json", "resnet50");
  EXPECT_EQ(s.name, "my-model.v1");
  EXPECT_EQ(s.arch, "resnet18");
  EXPECT_EQ(s.labels, "idx.json");
}

TEST(ParseModelSpec, BadValuesAreNamed) {
  for (const char* bad : {"noequals", "=a.pth", "a b=x.pth",
                          "m=", "m=a.pth,arch=", "m=a.pth,color=red", "m/x=a.pth"}) {
    try {
      parse_model_spec(bad, "resnet50");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace ptinfer::serve
