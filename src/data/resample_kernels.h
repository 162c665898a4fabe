// The two passes of Pillow 9.4's antialiased BILINEAR and BICUBIC resample on 8-bit RGB
// (libImaging/Resample.c), in two forms that give the same bytes:
//   * plain: Pillow's loops as written, the reference;
//   * fast (resample_horizontal / resample_vertical): SSE2 on x86-64, the plain loops
//     elsewhere. Still Pillow's integer arithmetic: each 22-bit fixed-point tap is split into
//     15 low and 8 high bits so that pmaddwd (16 x 16 -> 32-bit multiply-add of pixel pairs)
//     computes the exact products; int32 sums wrap modulo 2^32 as Pillow's do, so the order of
//     the additions does not change a byte. Bicubic taps can be negative: the split is then
//     high = floor(w / 2^15) < 0 and low = w - high * 2^15 in [0, 2^15), still exact.
// Internal to image_resize.cpp and its tests.
#pragma once

#include <cstdint>
#include <vector>

#include "data/image.h"
#include "data/interpolation.h"

namespace ptinfer::data::detail {

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's PRECISION_BITS
constexpr int32_t kHalf = int32_t{1} << (kPrecisionBits - 1);

// Fixed-point filter taps for outputs [begin, begin + first.size()) of one axis: output
// begin + i reads `count[i]` inputs from `first[i]` with weights taps[i * ksize ...].
struct AxisCoefficients {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> taps;
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for `filter` (bilinear: support 1;
// bicubic: a = -0.5, support 2; both widened by the downscale factor), an axis of `in_size`
// resampled to `out_size`, restricted to outputs [begin, end) (0 <= begin < end <= out_size).
AxisCoefficients axis_coefficients(Interpolation filter, int in_size, int out_size, int begin,
                                   int end);

// Horizontal pass: out row y is input row row_begin + y filtered by `c` (out.width outputs).
// Requires rows row_begin .. row_begin + out.height - 1 to exist in `in`.
void resample_horizontal_plain(const Image& in, int row_begin, const AxisCoefficients& c,
                               Image& out);
void resample_horizontal(const Image& in, int row_begin, const AxisCoefficients& c, Image& out);

// Vertical pass: out row y filters, by `c`'s row y, the columns [col_begin, col_begin +
// out.width) of `in`, whose row 0 is input row `row_shift`.
void resample_vertical_plain(const Image& in, int col_begin, int row_shift,
                             const AxisCoefficients& c, Image& out);
void resample_vertical(const Image& in, int col_begin, int row_shift, const AxisCoefficients& c,
                       Image& out);

}  // namespace ptinfer::data::detail
