// The fast (SSE2) resample passes against the plain ones, byte for byte, for both filters on
// random images over downscales, upscales, odd and even tap counts, windows starting at either
// edge, the last row and row widths that leave a tail of columns; bicubic's negative taps go
// through the same 15 + 8-bit split. (image_resize_test.cpp checks the whole resize, which uses
// the fast passes, against PIL itself.)
#include "data/resample_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <utility>

namespace ptinfer::data::detail {
namespace {

Image random_image(int width, int height, std::mt19937& rng) {
  Image image(width, height);
  std::uniform_int_distribution<int> byte(0, 255);
  // Mostly random bytes, with runs of 0 and 255 so the clamp at both ends is exercised.
  for (size_t i = 0; i < image.rgb.size(); ++i) {
    const int r = byte(rng);
    image.rgb[i] = static_cast<uint8_t>(r < 20 ? 0 : (r > 235 ? 255 : byte(rng)));
  }
  return image;
}

::testing::AssertionResult same_bytes(const Image& a, const Image& b) {
  if (a.width != b.width || a.height != b.height) return ::testing::AssertionFailure() << "size";
  for (size_t i = 0; i < a.rgb.size(); ++i) {
    if (a.rgb[i] != b.rgb[i]) {
      return ::testing::AssertionFailure() << "byte " << i << ": " << int(a.rgb[i]) << " vs "
                                           << int(b.rgb[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

struct Case {
  int in_width, in_height, out_width, out_height;
};

const Case kCases[] = {
    {500, 375, 341, 256}, {375, 500, 256, 341}, {1024, 768, 298, 224}, {640, 480, 256, 192},
    {7, 5, 3, 2},         {3, 3, 8, 9},         {33, 17, 32, 16},       {2, 2, 1, 1},
    {1, 9, 1, 4},         {9, 1, 4, 1},         {100, 100, 7, 13},      {4000, 30, 5, 29},
    {61, 47, 61, 23},     {47, 61, 23, 61},     {256, 256, 255, 257},   {17, 6, 16, 5},
};

constexpr Interpolation kFilters[] = {Interpolation::kBilinear, Interpolation::kBicubic};

std::string trace(const Case& c, int out, Interpolation filter) {
  return std::to_string(c.in_width) + "x" + std::to_string(c.in_height) + " -> " +
         std::to_string(out) + " " + interpolation_name(filter);
}

// Bicubic's outer lobes are negative; bilinear's taps never are.
TEST(ResampleKernels, BicubicHasNegativeTaps) {
  for (auto [in, out] : {std::pair{500, 341}, std::pair{7, 19}, std::pair{2, 9}}) {
    SCOPED_TRACE(std::to_string(in) + " -> " + std::to_string(out));
    const AxisCoefficients cubic = axis_coefficients(Interpolation::kBicubic, in, out, 0, out);
    const AxisCoefficients linear = axis_coefficients(Interpolation::kBilinear, in, out, 0, out);
    EXPECT_LT(*std::min_element(cubic.taps.begin(), cubic.taps.end()), 0);
    EXPECT_GE(*std::min_element(linear.taps.begin(), linear.taps.end()), 0);
    EXPECT_GT(cubic.ksize, linear.ksize);
  }
}

TEST(ResampleKernels, HorizontalPassMatchesPlain) {
  std::mt19937 rng(1);
  for (const Case& c : kCases) {
    for (Interpolation filter : kFilters) {
      SCOPED_TRACE(trace(c, c.out_width, filter));
      const Image in = random_image(c.in_width, c.in_height, rng);
      // The whole row, then a window of outputs [begin, end) inside it.
      const int begin = c.out_width / 3, end = std::max(begin + 1, 2 * c.out_width / 3);
      for (auto [b, e] : {std::pair{0, c.out_width}, std::pair{begin, end}}) {
        const AxisCoefficients coeffs = axis_coefficients(filter, c.in_width, c.out_width, b, e);
        Image fast(e - b, c.in_height), plain(e - b, c.in_height);
        resample_horizontal(in, 0, coeffs, fast);
        resample_horizontal_plain(in, 0, coeffs, plain);
        EXPECT_TRUE(same_bytes(fast, plain));
        // Rows from the middle to the end (the last row is read from a padded copy).
        const int rows = c.in_height - c.in_height / 2;
        Image fast_tail(e - b, rows), plain_tail(e - b, rows);
        resample_horizontal(in, c.in_height / 2, coeffs, fast_tail);
        resample_horizontal_plain(in, c.in_height / 2, coeffs, plain_tail);
        EXPECT_TRUE(same_bytes(fast_tail, plain_tail));
      }
    }
  }
}

TEST(ResampleKernels, VerticalPassMatchesPlain) {
  std::mt19937 rng(2);
  for (const Case& c : kCases) {
    for (Interpolation filter : kFilters) {
      SCOPED_TRACE(trace(c, c.out_height, filter));
      const Image in = random_image(c.in_width, c.in_height, rng);
      const AxisCoefficients all =
          axis_coefficients(filter, c.in_height, c.out_height, 0, c.out_height);
      Image fast(c.in_width, c.out_height), plain(c.in_width, c.out_height);
      resample_vertical(in, 0, 0, all, fast);
      resample_vertical_plain(in, 0, 0, all, plain);
      EXPECT_TRUE(same_bytes(fast, plain));
      // A window of columns and output rows, reading from an image that starts at row_shift.
      const int y0 = c.out_height / 2, y1 = c.out_height;
      const AxisCoefficients part = axis_coefficients(filter, c.in_height, c.out_height, y0, y1);
      const int row_shift = part.first.front();
      const int rows = part.first.back() + part.count.back() - row_shift;
      Image shifted(c.in_width, rows);
      std::copy(in.row(row_shift), in.row(row_shift) + shifted.rgb.size(), shifted.rgb.begin());
      const int col_begin = c.in_width / 4, cols = c.in_width - c.in_width / 4;
      Image fast_part(cols, y1 - y0), plain_part(cols, y1 - y0);
      resample_vertical(shifted, col_begin, row_shift, part, fast_part);
      resample_vertical_plain(shifted, col_begin, row_shift, part, plain_part);
      EXPECT_TRUE(same_bytes(fast_part, plain_part));
    }
  }
}

}  // namespace
}  // namespace ptinfer::data::detail
