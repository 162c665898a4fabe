// Test-only helpers shared by image_decode_test, image_resize_test and preprocess_test: the
// fixture folder that make_image_fixtures.py writes ($PTINFER_FIXTURE_DIR/images), its
// manifest, raw files, and a byte comparison that says where images differ.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/image.h"

namespace ptinfer::data::testing {

// The fixture folder; throws (failing the test, never skipping it) when it is missing.
inline std::string image_fixture_dir() {
  const char* root = std::getenv("PTINFER_FIXTURE_DIR");
  if (!root) throw std::runtime_error("PTINFER_FIXTURE_DIR is not set; run through ctest");
  return std::string(root) + "/images";
}

inline std::vector<uint8_t> read_fixture_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture file " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline nlohmann::json load_image_manifest() {
  const std::string path = image_fixture_dir() + "/manifest.json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("missing fixture manifest " + path);
  nlohmann::json manifest = nlohmann::json::parse(in);
  if (manifest.at("images").empty()) throw std::runtime_error("fixture manifest lists no images");
  return manifest;
}

// A raw RGB fixture as an Image of the given size.
inline Image read_raw_image(const std::string& file, int width, int height) {
  Image image(width, height);
  std::vector<uint8_t> bytes = read_fixture_bytes(image_fixture_dir() + "/" + file);
  if (bytes.size() != image.rgb.size()) {
    throw std::runtime_error(file + ": size " + std::to_string(bytes.size()) + " is not " +
                             std::to_string(width) + "x" + std::to_string(height) + "x3");
  }
  image.rgb = std::move(bytes);
  return image;
}

// Success when `actual` equals `expected` byte for byte; otherwise how many bytes differ,
// the largest difference and the first differing pixel.
inline ::testing::AssertionResult images_equal(const Image& actual, const Image& expected) {
  if (actual.width != expected.width || actual.height != expected.height) {
    return ::testing::AssertionFailure()
           << "size " << actual.width << "x" << actual.height << " != expected " << expected.width
           << "x" << expected.height;
  }
  size_t differing = 0, first = 0;
  int max_diff = 0;
  for (size_t i = 0; i < expected.rgb.size(); ++i) {
    const int d = std::abs(int{actual.rgb[i]} - int{expected.rgb[i]});
    if (d && !differing++) first = i;
    if (d > max_diff) max_diff = d;
  }
  if (!differing) return ::testing::AssertionSuccess();
  const size_t pixel = first / 3;
  return ::testing::AssertionFailure()
         << differing << " of " << expected.rgb.size() << " bytes differ (max " << max_diff
         << "), first at x=" << pixel % expected.width << " y=" << pixel / expected.width
         << " channel " << first % 3 << ": " << int{actual.rgb[first]} << " vs "
         << int{expected.rgb[first]};
}

}  // namespace ptinfer::data::testing
