// Decoding against PIL: every fixture image must decode to exactly the bytes of
// PIL.Image.open(path).convert('RGB'), and every bad file must be refused with the right
// kind and its path in the message.
#include "data/image_decode.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/image_test_fixtures.h"

namespace ptinfer::data {
namespace {

using testing::image_fixture_dir;
using testing::images_equal;
using testing::load_image_manifest;
using testing::read_fixture_bytes;
using testing::read_raw_image;

TEST(ImageDecode, EveryFixtureMatchesPilByteForByte) {
  const auto manifest = load_image_manifest();
  std::map<std::string, int> per_format;
  for (const auto& entry : manifest["images"]) {
    const std::string file = entry["file"];
    SCOPED_TRACE(file);
    const Image expected = read_raw_image(entry["decoded"], entry["width"], entry["height"]);
    const Image actual = decode_image_file(image_fixture_dir() + "/" + file);
    EXPECT_TRUE(images_equal(actual, expected));
    ++per_format[entry["format"].get<std::string>()];
  }
  // The fixture must exercise every decoder, not just exist.
  EXPECT_GE(per_format["JPEG"], 10);
  EXPECT_GE(per_format["PNG"], 20);
  EXPECT_GE(per_format["BMP"], 8);
}

ErrorKind kind_from_manifest(const std::string& kind) {
  if (kind == "corrupt_data") return ErrorKind::kCorruptData;
  if (kind == "not_found") return ErrorKind::kNotFound;
  if (kind == "unsupported") return ErrorKind::kUnsupported;
  throw std::runtime_error("unknown kind in manifest: " + kind);
}

TEST(ImageDecode, BadFilesAreRefusedNamingThePath) {
  const auto manifest = load_image_manifest();
  ASSERT_GE(manifest["bad"].size(), 10u);
  for (const auto& entry : manifest["bad"]) {
    const std::string path = image_fixture_dir() + "/" + entry["file"].get<std::string>();
    SCOPED_TRACE(path);
    const ErrorKind want = kind_from_manifest(entry["kind"]);
    // Where PIL fails we must fail too; where PIL reads the file the manifest says why we
    // refuse it (a format we do not support).
    if (!entry["pil_fails"].get<bool>()) {
      EXPECT_EQ(want, ErrorKind::kUnsupported);
    }
    try {
      decode_image_file(path);
      ADD_FAILURE() << "decoded without error";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), want) << e.what();
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

TEST(ImageDecode, FormatComesFromMagicBytesNotTheName) {
  const std::string dir = image_fixture_dir();
  const auto png = read_fixture_bytes(dir + "/png_rgb_500x375.png");
  const auto jpeg = read_fixture_bytes(dir + "/jpeg_420_500x375.jpg");
  const auto bmp = read_fixture_bytes(dir + "/bmp_24_41x29.bmp");
  EXPECT_EQ(detect_image_format(png.data(), png.size()), ImageFormat::kPng);
  EXPECT_EQ(detect_image_format(jpeg.data(), jpeg.size()), ImageFormat::kJpeg);
  EXPECT_EQ(detect_image_format(bmp.data(), bmp.size()), ImageFormat::kBmp);
  EXPECT_EQ(detect_image_format(png.data(), 7), ImageFormat::kUnknown);
  const Image from_memory = decode_image(png.data(), png.size(), "photo.jpg");
  EXPECT_TRUE(images_equal(from_memory, decode_image_file(dir + "/png_rgb_500x375.png")));
}

TEST(ImageDecode, MissingFileAndDirectoryAreNotFound) {
  try {
    decode_image_file("/nonexistent/dir/x.png");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.png"), std::string::npos);
  }
  EXPECT_THROW(decode_image_file(image_fixture_dir()), Error);
}

// Every strict prefix of a JPEG or BMP is an error (PIL: "image file is truncated"); for
// PNG a prefix that only lacks the trailing chunks still decodes, as in PIL. None may crash.
TEST(ImageDecode, EveryPrefixIsRefusedOrDecodedNeverCrashes) {
  const std::string dir = image_fixture_dir();
  for (const char* file :
       {"jpeg_422_97x61.jpg", "jpeg_progressive_375x500.jpg", "bmp_8_palette_50x40.bmp",
        "png_interlaced_rgb_45x37.png", "png_palette4_trns_27x14.png"}) {
    SCOPED_TRACE(file);
    const auto bytes = read_fixture_bytes(dir + "/" + file);
    const bool must_fail = std::string(file).find(".png") == std::string::npos;
    const size_t step = bytes.size() > 4000 ? bytes.size() / 997 : 1;
    for (size_t n = 0; n < bytes.size(); n += step) {
      try {
        const Image image = decode_image(bytes.data(), n, file);
        EXPECT_FALSE(must_fail) << "prefix of " << n << " bytes decoded";
        EXPECT_EQ(image.rgb.size(), static_cast<size_t>(image.width) * image.height * 3);
      } catch (const Error& e) {
        EXPECT_TRUE(e.kind() == ErrorKind::kCorruptData || e.kind() == ErrorKind::kUnsupported)
            << e.what();
      }
    }
  }
}

TEST(ImageDecode, RandomCorruptionNeverCrashes) {
  const std::string dir = image_fixture_dir();
  std::mt19937 rng(1234);
  for (const char* file : {"jpeg_420_7x5.jpg", "jpeg_gray_123x77.jpg", "png_la_31x17.png",
                           "png_rgb16_33x21.png", "bmp_4_palette_15x6.bmp"}) {
    SCOPED_TRACE(file);
    const auto original = read_fixture_bytes(dir + "/" + file);
    for (int trial = 0; trial < 300; ++trial) {
      auto bytes = original;
      for (int flips = 0; flips < 1 + trial % 4; ++flips) {
        bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
      }
      try {
        const Image image = decode_image(bytes.data(), bytes.size(), file);
        EXPECT_EQ(image.rgb.size(), static_cast<size_t>(image.width) * image.height * 3);
      } catch (const Error&) {
      }
    }
  }
}

// Dimensions whose product overflows int64 (found by fuzz/image_decode_fuzz): refused as too
// large, with no undefined arithmetic (the sanitizer build checks that).
TEST(ImageDecode, HugeBmpDimensionsAreRefusedBeforeMultiplyingThem) {
  std::vector<uint8_t> bmp(54, 0);
  auto put32 = [&bmp](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) bmp[at + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  bmp[0] = 'B';
  bmp[1] = 'M';
  put32(2, 54);
  put32(10, 54);          // pixel data offset
  put32(14, 40);          // BITMAPINFOHEADER
  put32(18, 4244307975);  // width
  put32(22, 4261215484);  // height (bottom-up: both near 2^32)
  bmp[26] = 1;            // planes
  bmp[28] = 24;           // bits per pixel, BI_RGB
  try {
    decode_image(bmp.data(), bmp.size(), "huge.bmp");
    FAIL() << "decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("huge.bmp: BMP image of 4244307975x"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace ptinfer::data
