// An 8-bit RGB image in memory, the form every decoder produces and every transform takes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ptinfer::data {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // height rows of width pixels, R G B interleaved (HWC), no padding

  Image() = default;
  Image(int w, int h) : width(w), height(h), rgb(static_cast<size_t>(w) * h * 3) {}
  uint8_t* row(int y) { return rgb.data() + static_cast<size_t>(y) * width * 3; }
  const uint8_t* row(int y) const { return rgb.data() + static_cast<size_t>(y) * width * 3; }
};

}  // namespace ptinfer::data
