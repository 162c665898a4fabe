#include "serve/kserve.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace ptinfer::serve {
namespace {

ErrorKind kind_of(const std::string& body) {
  try {
    parse_infer_request(body);
  } catch (const Error& e) {
    return e.kind();
  }
  return ErrorKind::kInternal;  // "no error"
}

std::string message_of(const std::string& body) {
  try {
    parse_infer_request(body);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Base64, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(base64_decode("aGVsbG8=", "f"), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8", "f"), "hello");
  EXPECT_EQ(base64_decode("", "f"), "");
  EXPECT_EQ(base64_decode("/+8=", "f"), std::string("\xff\xef"));
}

TEST(Base64, RejectsBadCharactersAndLengths) {
  EXPECT_THROW(base64_decode("aGV*bG8=", "f"), Error);
  EXPECT_THROW(base64_decode("a", "f"), Error);
  EXPECT_THROW(base64_decode("aGVsbG8=x", "f"), Error);
}

TEST(ParseInferRequest, Fp32NestedOrFlat) {
  auto r = parse_infer_request(
      R"({"id":"a","inputs":[{"name":"x","datatype":"FP32","shape":[1,3,1,2],)"
      R"("data":[[[[1,2]],[[3,4]],[[5,6]]]]}],"outputs":[{"name":"y","parameters":{"classification":2}}]})");
  EXPECT_EQ(r.id, "a");
  EXPECT_FALSE(r.is_images);
  EXPECT_EQ(r.tensor.sizes(), (std::vector<int64_t>{1, 3, 1, 2}));
  EXPECT_EQ(r.tensor[0][2][0][1].item<float>(), 6.0f);
  EXPECT_EQ(r.output_name, "y");
  EXPECT_EQ(r.classification, 2);
  auto flat = parse_infer_request(
      R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3,1,1],"data":[1,2,3]}],)"
      R"("parameters":{"classification":1}})");
  EXPECT_EQ(flat.tensor.sum().item<float>(), 6.0f);
  EXPECT_EQ(flat.classification, 1);
}

TEST(ParseInferRequest, BytesAreBase64Images) {
  auto r = parse_infer_request(
      R"({"inputs":[{"name":"img","datatype":"BYTES","shape":[2],"data":["aGk=","eW8="]}]})");
  ASSERT_TRUE(r.is_images);
  EXPECT_EQ(r.images, (std::vector<std::string>{"hi", "yo"}));
}

TEST(ParseInferRequest, BadRequestsNameTheField) {
  EXPECT_EQ(kind_of("{not json"), ErrorKind::kCorruptData);
  EXPECT_EQ(kind_of("[]"), ErrorKind::kInvalidArgument);
  EXPECT_EQ(kind_of(R"({"inputs":[]})"), ErrorKind::kInvalidArgument);
  EXPECT_NE(
      message_of(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3,1,1],"data":[1,2]}]})")
          .find("needs 3 values, got 2"),
      std::string::npos);
  EXPECT_NE(
      message_of(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,2,1,1],"data":[1,2]}]})")
          .find("[N, 3, H, W]"),
      std::string::npos);
  EXPECT_NE(message_of(
                R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3,1,1],"data":[1,"a",3]}]})")
                .find("must hold numbers"),
            std::string::npos);
  EXPECT_NE(
      message_of(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3,-1,1],"data":[]}]})")
          .find("inputs[0].shape"),
      std::string::npos);
  EXPECT_EQ(kind_of(R"({"inputs":[{"name":"x","datatype":"INT8","shape":[1],"data":[1]}]})"),
            ErrorKind::kUnsupported);
  EXPECT_EQ(kind_of(R"({"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":["*"]}]})"),
            ErrorKind::kCorruptData);
  EXPECT_EQ(kind_of(R"({"inputs":[{"name":"x","datatype":"BYTES","shape":[2],"data":["aGk="]}]})"),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(
      kind_of(R"({"inputs":[{"name":"x","datatype":"FP32","shape":[1,3,1,1],"data":[1,2,3]}],)"
              R"("parameters":{"classification":0}})"),
      ErrorKind::kInvalidArgument);
}

TEST(InferResponse, LogitsOrClassification) {
  InferRequest r;
  r.id = "q";
  torch::Tensor logits = torch::tensor({{0.5f, 2.0f, -1.0f}});
  auto j = infer_response("m", r, logits, {});
  EXPECT_EQ(j["id"], "q");
  EXPECT_EQ(j["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(j["outputs"][0]["shape"], nlohmann::json({1, 3}));
  EXPECT_EQ(j["outputs"][0]["data"][1].get<float>(), 2.0f);
  r.classification = 5;  // more than the classes: clamped
  j = infer_response("m", r, logits, {"a", "b", "c"});
  EXPECT_EQ(j["outputs"][0]["shape"], nlohmann::json({1, 3}));
  EXPECT_EQ(j["outputs"][0]["data"][0], "2:1:b");
  EXPECT_EQ(j["outputs"][0]["data"][2], "-1:2:c");
}

}  // namespace
}  // namespace ptinfer::serve
