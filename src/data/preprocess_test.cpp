// The whole validation transform against torchvision: decode + Resize (bilinear and bicubic)
// + CenterCrop + ToTensor + Normalize must give the very same float32 values (compared bitwise).
#include "data/preprocess.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/image_test_fixtures.h"

namespace ptinfer::data {
namespace {

using testing::image_fixture_dir;
using testing::load_image_manifest;
using testing::read_fixture_bytes;

TEST(Preprocess, MatchesTorchvisionBitForBit) {
  const auto manifest = load_image_manifest();
  int checked = 0, bicubic = 0;
  for (const auto& entry : manifest["images"]) {
    for (const auto& c : entry["cases"]) {
      PreprocessOptions options;  // ImageNet mean/std, as the fixture's Normalize
      options.resize_size = c["resize"];
      options.crop_size = c["crop"];
      options.interpolation =
          parse_interpolation(c["interpolation"].get<std::string>(), "fixture interpolation");
      SCOPED_TRACE(entry["file"].get<std::string>() + " resize " +
                   std::to_string(options.resize_size) + " crop " +
                   std::to_string(options.crop_size) + " " +
                   interpolation_name(options.interpolation));
      const auto expected_bytes =
          read_fixture_bytes(image_fixture_dir() + "/" + c["tensor"].get<std::string>());
      std::vector<float> actual(preprocessed_size(options));
      ASSERT_EQ(expected_bytes.size(), actual.size() * sizeof(float));
      preprocess_file(image_fixture_dir() + "/" + entry["file"].get<std::string>(), options,
                      actual.data());
      std::vector<float> expected(actual.size());
      std::memcpy(expected.data(), expected_bytes.data(), expected_bytes.size());
      size_t differing = 0, first = 0;
      for (size_t i = 0; i < actual.size(); ++i) {
        if (std::memcmp(&actual[i], &expected[i], sizeof(float)) != 0 && !differing++) first = i;
      }
      EXPECT_EQ(differing, 0u) << "first at " << first << ": " << actual[first] << " vs "
                               << expected[first];
      ++checked;
      bicubic += options.interpolation == Interpolation::kBicubic;
    }
  }
  EXPECT_GE(checked, 250);
  EXPECT_GE(bicubic, 100);
}

TEST(Preprocess, SizeAndInvalidOptions) {
  PreprocessOptions options;
  EXPECT_EQ(preprocessed_size(options), 3u * 224 * 224);
  EXPECT_EQ(options.interpolation, Interpolation::kBilinear);  // the guide's transform
  const Image image(8, 8);
  std::vector<float> out(3 * 224 * 224);
  options.crop_size = 0;
  EXPECT_THROW(preprocess_image(image, options, out.data()), Error);
  options = PreprocessOptions();
  options.resize_size = -1;
  EXPECT_THROW(preprocess_image(image, options, out.data()), Error);
  options = PreprocessOptions();
  options.std[1] = 0.0f;
  EXPECT_THROW(preprocess_image(image, options, out.data()), Error);
}

TEST(Preprocess, FitInputSizeFollowsTheWeightsUnlessGiven) {
  const PreprocessOptions guide;  // resize 256, crop 224
  // Nothing fixed, or fixed to the crop already: unchanged.
  EXPECT_EQ(fit_input_size(guide, 0, false, false, "w.pth").crop_size, 224);
  EXPECT_EQ(fit_input_size(guide, 224, true, true, "w.pth").resize_size, 256);
  // The crop follows; the resize keeps 256:224 (round(384 * 256 / 224) = round(438.86)).
  PreprocessOptions p = fit_input_size(guide, 384, false, false, "w.pth");
  EXPECT_EQ(p.crop_size, 384);
  EXPECT_EQ(p.resize_size, 439);
  EXPECT_EQ(p.interpolation, guide.interpolation);
  EXPECT_EQ(fit_input_size(guide, 518, false, false, "w.pth").resize_size, 592);
  // An explicit resize stays; no resize stays none; a preset with resize == crop stays equal.
  EXPECT_EQ(fit_input_size(guide, 384, false, true, "w.pth").resize_size, 256);
  PreprocessOptions none = guide;
  none.resize_size = 0;
  EXPECT_EQ(fit_input_size(none, 384, false, false, "w.pth").resize_size, 0);
  PreprocessOptions square = guide;
  square.resize_size = 224;
  EXPECT_EQ(fit_input_size(square, 384, false, false, "w.pth").resize_size, 384);
  // An explicit crop of another size is refused, naming the weights and the size they fix.
  try {
    fit_input_size(guide, 384, true, false, "vit384.pth");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("crop size 224 does not fit vit384.pth"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("384x384"), std::string::npos) << e.what();
  }
}

TEST(Preprocess, FileErrorsNameThePath) {
  std::vector<float> out(3 * 224 * 224);
  const std::string path = image_fixture_dir() + "/truncated_half.jpg";
  try {
    preprocess_file(path, PreprocessOptions(), out.data());
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorruptData);
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ptinfer::data
