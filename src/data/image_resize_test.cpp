// Resize and CenterCrop against PIL / torchvision: Image.resize(BILINEAR and BICUBIC) at many
// sizes (downscale, upscale, one axis only, 1x1, unchanged) and Resize(n, interpolation) +
// CenterCrop(m) with the fixture's sizes, byte for byte; plus the rounding and padding rules on
// their own.
#include "data/image_resize.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <utility>

#include "common/error.h"
#include "data/image_test_fixtures.h"

namespace ptinfer::data {
namespace {

using testing::images_equal;
using testing::load_image_manifest;
using testing::read_raw_image;

constexpr Interpolation kFilters[] = {Interpolation::kBilinear, Interpolation::kBicubic};

// The fixture entry's "interpolation" ("bilinear" or "bicubic").
Interpolation interpolation_of(const nlohmann::json& entry) {
  return parse_interpolation(entry.at("interpolation").get<std::string>(), "fixture interpolation");
}

TEST(ImageResize, PilResizeMatchesByteForByte) {
  const auto manifest = load_image_manifest();
  std::map<Interpolation, int> checked;
  for (const auto& entry : manifest["images"]) {
    const Image source = read_raw_image(entry["decoded"], entry["width"], entry["height"]);
    for (const auto& r : entry["pil_resizes"]) {
      const int w = r["width"], h = r["height"];
      const Interpolation filter = interpolation_of(r);
      SCOPED_TRACE(entry["file"].get<std::string>() + " -> " + std::to_string(w) + "x" +
                   std::to_string(h) + " " + interpolation_name(filter));
      EXPECT_TRUE(images_equal(resize(source, w, h, filter), read_raw_image(r["file"], w, h)));
      ++checked[filter];
    }
  }
  EXPECT_GE(checked[Interpolation::kBilinear], 200);
  EXPECT_GE(checked[Interpolation::kBicubic], 200);
}

// The bicubic references are not bilinear ones under another name: on a downscale and an
// upscale of the same noisy image a good part of the bytes differ.
TEST(ImageResize, BicubicDiffersFromBilinear) {
  const auto manifest = load_image_manifest();
  int compared = 0;
  for (const auto& entry : manifest["images"]) {
    if (entry["file"] != "png_rgb_500x375.png") continue;
    const Image source = read_raw_image(entry["decoded"], entry["width"], entry["height"]);
    for (auto [w, h] : {std::pair{341, 256}, std::pair{1001, 751}}) {
      const Image linear = resize(source, w, h, Interpolation::kBilinear);
      const Image cubic = resize(source, w, h, Interpolation::kBicubic);
      size_t differing = 0;
      for (size_t i = 0; i < cubic.rgb.size(); ++i) differing += linear.rgb[i] != cubic.rgb[i];
      EXPECT_GT(differing, cubic.rgb.size() / 4) << w << "x" << h;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 2);
}

TEST(ImageResize, TorchvisionResizeAndCenterCropMatch) {
  const auto manifest = load_image_manifest();
  std::map<Interpolation, int> checked;
  for (const auto& entry : manifest["images"]) {
    const Image source = read_raw_image(entry["decoded"], entry["width"], entry["height"]);
    for (const auto& c : entry["cases"]) {
      const int size = c["resize"], crop = c["crop"];
      const Interpolation filter = interpolation_of(c);
      SCOPED_TRACE(entry["file"].get<std::string>() + " Resize(" + std::to_string(size) + ", " +
                   interpolation_name(filter) + ") CenterCrop(" + std::to_string(crop) + ")");
      const Image resized = size > 0 ? resize_shorter_side(source, size, filter) : source;
      EXPECT_EQ(resized.width, c["resized_width"].get<int>());
      EXPECT_EQ(resized.height, c["resized_height"].get<int>());
      if (c.contains("resized")) {
        EXPECT_TRUE(
            images_equal(resized, read_raw_image(c["resized"], resized.width, resized.height)));
      }
      EXPECT_TRUE(
          images_equal(center_crop(resized, crop, crop), read_raw_image(c["cropped"], crop, crop)));
      ++checked[filter];
    }
  }
  EXPECT_GE(checked[Interpolation::kBilinear], 150);
  EXPECT_GE(checked[Interpolation::kBicubic], 100);
}

// The windowed resize (what preprocess uses) must equal cutting the window out of the full
// resize, whichever passes run and wherever the window lies, inside or partly outside.
TEST(ImageResize, WindowEqualsCropOfFullResize) {
  const auto manifest = load_image_manifest();
  std::mt19937 rng(7);
  int checked = 0;
  for (const auto& entry : manifest["images"]) {
    if (entry["width"].get<int>() * entry["height"].get<int>() > 300000) continue;
    const Image source = read_raw_image(entry["decoded"], entry["width"], entry["height"]);
    const int sw = source.width, sh = source.height;
    for (auto [w, h] : {std::pair{sw, sh}, std::pair{sw, sh / 2 + 1}, std::pair{sw / 3 + 1, sh},
                        std::pair{sw * 2 + 3, sh / 2 + 1}, std::pair{sw / 2 + 1, sh * 3 + 1}}) {
      for (Interpolation filter : kFilters) {
        const Image full = resize(source, w, h, filter);
        for (int trial = 0; trial < 4; ++trial) {
          CropWindow win;
          win.width = 1 + static_cast<int>(rng() % (w + 4));
          win.height = 1 + static_cast<int>(rng() % (h + 4));
          win.left = static_cast<int>(rng() % (w + 6)) - 3;
          win.top = static_cast<int>(rng() % (h + 6)) - 3;
          SCOPED_TRACE(entry["file"].get<std::string>() + " " + std::to_string(w) + "x" +
                       std::to_string(h) + " " + interpolation_name(filter) + " window " +
                       std::to_string(win.left) + "," + std::to_string(win.top) + " " +
                       std::to_string(win.width) + "x" + std::to_string(win.height));
          Image expected(win.width, win.height);
          for (int y = 0; y < win.height; ++y) {
            for (int x = 0; x < win.width; ++x) {
              const int fx = win.left + x, fy = win.top + y;
              if (fx < 0 || fy < 0 || fx >= w || fy >= h) continue;
              for (int c = 0; c < 3; ++c) expected.row(y)[3 * x + c] = full.row(fy)[3 * fx + c];
            }
          }
          EXPECT_TRUE(images_equal(resize_window(source, w, h, win, filter), expected));
          ++checked;
        }
      }
    }
  }
  EXPECT_GE(checked, 1000);
}

TEST(CenterCrop, OffsetsRoundHalfToEvenLikePython) {
  // Python: round(0.5) == 0, round(1.5) == 2, round(2.5) == 2, round(-0.5) == 0,
  // round(-1.5) == -2.
  EXPECT_EQ(round_half_to_even_div2(0), 0);
  EXPECT_EQ(round_half_to_even_div2(1), 0);
  EXPECT_EQ(round_half_to_even_div2(2), 1);
  EXPECT_EQ(round_half_to_even_div2(3), 2);
  EXPECT_EQ(round_half_to_even_div2(5), 2);
  EXPECT_EQ(round_half_to_even_div2(7), 4);
  EXPECT_EQ(round_half_to_even_div2(33), 16);
  EXPECT_EQ(round_half_to_even_div2(35), 18);
  EXPECT_EQ(round_half_to_even_div2(-1), 0);
  EXPECT_EQ(round_half_to_even_div2(-3), -2);
  EXPECT_EQ(round_half_to_even_div2(-4), -2);
  // 257 -> 224: (257 - 224) / 2 = 16.5 rounds to 16; 259 -> 17.5 rounds to 18.
  EXPECT_EQ(center_crop_window(257, 259, 224, 224).top, 16);
  EXPECT_EQ(center_crop_window(257, 259, 224, 224).left, 18);
}

TEST(CenterCrop, PadsWithZerosWhenTheCropIsLarger) {
  Image image(3, 2);
  for (auto& v : image.rgb) v = 200;
  // Width 3 -> 6: pad 1 left, 2 right. Height 2 -> 5: pad 1 top, 2 bottom.
  const CropWindow w = center_crop_window(2, 3, 5, 6);
  EXPECT_EQ(w.top, -1);
  EXPECT_EQ(w.left, -1);
  const Image out = center_crop(image, 5, 6);
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 6; ++x) {
      const bool inside = y >= 1 && y < 3 && x >= 1 && x < 4;
      EXPECT_EQ(out.row(y)[3 * x], inside ? 200 : 0) << x << "," << y;
    }
  }
}

TEST(ShorterSideResize, FollowsTorchvisionSizeRule) {
  EXPECT_EQ(shorter_side_resize_size(500, 375, 256).width, 341);
  EXPECT_EQ(shorter_side_resize_size(500, 375, 256).height, 256);
  EXPECT_EQ(shorter_side_resize_size(375, 500, 256).width, 256);
  EXPECT_EQ(shorter_side_resize_size(375, 500, 256).height, 341);
  EXPECT_EQ(shorter_side_resize_size(300, 300, 256).width, 256);
  EXPECT_EQ(shorter_side_resize_size(400, 3, 32).width, 4266);  // int(32 * 400 / 3)
  const Image same(300, 256);
  for (Interpolation filter : kFilters) {
    EXPECT_TRUE(images_equal(resize_shorter_side(same, 256, filter), same));
  }
}

TEST(ImageResize, RejectsInvalidSizes) {
  const Image image(4, 4);
  for (Interpolation filter : kFilters) {
    EXPECT_THROW(resize(image, 0, 4, filter), Error);
    EXPECT_THROW(resize(Image(), 2, 2, filter), Error);
  }
  EXPECT_THROW(shorter_side_resize_size(4, 4, 0), Error);
  EXPECT_THROW(center_crop(image, 0, 3), Error);
}

}  // namespace
}  // namespace ptinfer::data
