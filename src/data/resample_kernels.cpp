// Pillow 9.4's Resample.c arithmetic for 8-bit RGB, bilinear and bicubic, plain and SSE2 (see
// resample_kernels.h).
// Every step keeps Pillow's arithmetic (double coefficients, the same rounding into 22-bit
// fixed point, int32 accumulation starting at one half, arithmetic shift and clamp), because a
// different but "equivalent" formula changes some output bytes by one. Written here rather than
// taken from a library because no packaged resampler reproduces Pillow's bytes.
#include "data/resample_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace ptinfer::data::detail {
namespace {

// Pillow's filters, each with its support (the half-width at scale 1), written as Pillow
// evaluates them: the same operations in the same order give the same doubles.
struct Filter {
  double (*weight)(double x);
  double support;
};

double bilinear_filter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Keys' cubic convolution kernel with a = -0.5 (Pillow's BICUBIC).
double bicubic_filter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

Filter filter_of(Interpolation interpolation) {
  return interpolation == Interpolation::kBicubic ? Filter{bicubic_filter, 2.0}
                                                  : Filter{bilinear_filter, 1.0};
}

inline uint8_t clip8(int32_t acc) {
  const int32_t v = acc >> kPrecisionBits;  // arithmetic shift, as Pillow's lookup-table clip
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

}  // namespace

AxisCoefficients axis_coefficients(Interpolation interpolation, int in_size, int out_size,
                                   int begin, int end) {
  const Filter filter = filter_of(interpolation);
  // Pillow passes the source box as floats (0, in_size); the difference is exact here.
  const float box_begin = 0.0f, box_end = static_cast<float>(in_size);
  const double scale = static_cast<double>(box_end - box_begin) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;  // widen the filter when shrinking
  const double support = filter.support * filterscale;
  AxisCoefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  const int n_out = end - begin;
  c.first.resize(n_out);
  c.count.resize(n_out);
  c.taps.assign(static_cast<size_t>(n_out) * c.ksize, 0);
  std::vector<double> weights(c.ksize);
  for (int i = 0; i < n_out; ++i) {
    const double center = box_begin + (begin + i + 0.5) * scale;
    const double inv_scale = 1.0 / filterscale;
    // Pillow rounds the window ends by adding 0.5 and truncating toward zero.
    int lo = static_cast<int>(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int n = hi - lo;
    double total = 0.0;
    for (int x = 0; x < n; ++x) {
      const double w = filter.weight((x + lo - center + 0.5) * inv_scale);
      weights[x] = w;
      total += w;
    }
    int32_t* taps = &c.taps[static_cast<size_t>(i) * c.ksize];
    for (int x = 0; x < n; ++x) {
      const double w = total != 0.0 ? weights[x] / total : weights[x];
      const double scaled = w * (1 << kPrecisionBits);
      // Rounds half away from zero: bicubic's negative lobes round down, not up.
      taps[x] = static_cast<int32_t>(w < 0 ? -0.5 + scaled : 0.5 + scaled);
    }
    c.first[i] = lo;
    c.count[i] = n;
  }
  return c;
}

void resample_horizontal_plain(const Image& in, int row_begin, const AxisCoefficients& c,
                               Image& out) {
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* src = in.row(row_begin + y);
    uint8_t* dst = out.row(y);
    for (int x = 0; x < out.width; ++x, dst += 3) {
      const int32_t* k = &c.taps[static_cast<size_t>(x) * c.ksize];
      const uint8_t* p = src + static_cast<size_t>(c.first[x]) * 3;
      int32_t s0 = kHalf, s1 = kHalf, s2 = kHalf;
      for (int i = 0; i < c.count[x]; ++i, p += 3) {
        s0 += p[0] * k[i];
        s1 += p[1] * k[i];
        s2 += p[2] * k[i];
      }
      dst[0] = clip8(s0);
      dst[1] = clip8(s1);
      dst[2] = clip8(s2);
    }
  }
}

void resample_vertical_plain(const Image& in, int col_begin, int row_shift,
                             const AxisCoefficients& c, Image& out) {
  const size_t n = static_cast<size_t>(out.width) * 3;
  std::vector<int32_t> acc(n);
  for (int y = 0; y < out.height; ++y) {
    std::fill(acc.begin(), acc.end(), kHalf);
    const int32_t* k = &c.taps[static_cast<size_t>(y) * c.ksize];
    for (int i = 0; i < c.count[y]; ++i) {
      const uint8_t* src = in.row(c.first[y] - row_shift + i) + static_cast<size_t>(col_begin) * 3;
      const int32_t w = k[i];
      for (size_t j = 0; j < n; ++j) acc[j] += src[j] * w;  // integer: order-independent
    }
    uint8_t* dst = out.row(y);
    for (size_t j = 0; j < n; ++j) dst[j] = clip8(acc[j]);
  }
}

#if defined(__SSE2__)
namespace {

// A 22-bit tap w as w = high * 2^15 + low with 0 <= low < 2^15: both fit pmaddwd's int16.
// For bicubic's negative taps high = w >> 15 (arithmetic: floor) is negative and low still
// non-negative, so p * low + ((p * high) << 15) is p * w in int32 for either sign.
inline int16_t low15(int32_t w) { return static_cast<int16_t>(w & 0x7fff); }
inline int16_t high(int32_t w) { return static_cast<int16_t>(w >> 15); }

// (low sums) + (high sums) * 2^15 + one half, shifted and clamped to 0..255 per int32 lane:
// packs then packus saturate exactly as clip8 clamps.
inline __m128i finish(__m128i sum_low, __m128i sum_high) {
  const __m128i s = _mm_add_epi32(_mm_add_epi32(sum_low, _mm_slli_epi32(sum_high, 15)),
                                  _mm_set1_epi32(kHalf));
  return _mm_srai_epi32(s, kPrecisionBits);
}

// __m128i in a struct: its alignment attribute survives as a std::vector element.
struct Lanes {
  __m128i v;
};

inline __m128i load_u32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm_cvtsi32_si128(v);
}

}  // namespace

// Each output pixel reads an even number K of taps (the longest window, rounded up, zero taps
// beyond its own), from a window start moved left where needed to stay inside the row; two
// taps at a time as 16-bit lanes [R0 R1 G0 G1 B0 B1 0 0] times [w0 w1 w0 w1 w0 w1 0 0].
void resample_horizontal(const Image& in, int row_begin, const AxisCoefficients& c, Image& out) {
  int max_count = 0;
  for (int n : c.count) max_count = std::max(max_count, n);
  const int taps = (max_count + 1) & ~1;
  if (taps == 0 || taps > in.width) {  // images narrower than the filter: rare, plain loops
    resample_horizontal_plain(in, row_begin, c, out);
    return;
  }
  const int pairs = taps / 2;
  std::vector<int> first(out.width);
  std::vector<Lanes> weights(static_cast<size_t>(out.width) * pairs * 2);
  std::vector<int32_t> padded(taps);
  for (int x = 0; x < out.width; ++x) {
    first[x] = std::min(c.first[x], in.width - taps);
    std::fill(padded.begin(), padded.end(), 0);
    const int shift = c.first[x] - first[x];
    for (int i = 0; i < c.count[x]; ++i) padded[shift + i] = c.taps[size_t(x) * c.ksize + i];
    for (int j = 0; j < pairs; ++j) {
      const int32_t w0 = padded[2 * j], w1 = padded[2 * j + 1];
      Lanes* w = &weights[(size_t(x) * pairs + j) * 2];
      w[0].v = _mm_setr_epi16(low15(w0), low15(w1), low15(w0), low15(w1), low15(w0), low15(w1), 0, 0);
      w[1].v = _mm_setr_epi16(high(w0), high(w1), high(w0), high(w1), high(w0), high(w1), 0, 0);
    }
  }
  // A pixel is loaded as 4 bytes, so the last pixel of a row reads the next row's first byte;
  // the image's last row is read from a copy with one byte more.
  std::vector<uint8_t> last_row;
  const __m128i zero = _mm_setzero_si128();
  for (int y = 0; y < out.height; ++y) {
    const uint8_t* src = in.row(row_begin + y);
    if (row_begin + y == in.height - 1) {
      last_row.assign(src, src + size_t(in.width) * 3);
      last_row.push_back(0);
      src = last_row.data();
    }
    uint8_t* dst = out.row(y);
    for (int x = 0; x < out.width; ++x, dst += 3) {
      const uint8_t* p = src + size_t(first[x]) * 3;
      const Lanes* w = &weights[size_t(x) * pairs * 2];
      __m128i sum_low = zero, sum_high = zero;
      for (int j = 0; j < pairs; ++j, p += 6, w += 2) {
        const __m128i pair =
            _mm_unpacklo_epi8(_mm_unpacklo_epi8(load_u32(p), load_u32(p + 3)), zero);
        sum_low = _mm_add_epi32(sum_low, _mm_madd_epi16(pair, w[0].v));
        sum_high = _mm_add_epi32(sum_high, _mm_madd_epi16(pair, w[1].v));
      }
      const __m128i s = finish(sum_low, sum_high);
      const uint32_t rgb =
          static_cast<uint32_t>(_mm_cvtsi128_si32(_mm_packus_epi16(_mm_packs_epi32(s, s), zero)));
      dst[0] = static_cast<uint8_t>(rgb);
      dst[1] = static_cast<uint8_t>(rgb >> 8);
      dst[2] = static_cast<uint8_t>(rgb >> 16);
    }
  }
}

// 16 bytes (columns) at a time, two input rows at a time as 16-bit lanes [a0 b0 a1 b1 ...]
// times [w0 w1 w0 w1 ...]; the columns left over at the end of a row go through the plain sum.
void resample_vertical(const Image& in, int col_begin, int row_shift, const AxisCoefficients& c,
                       Image& out) {
  const size_t n = static_cast<size_t>(out.width) * 3;
  const size_t simd_n = n & ~size_t{15};
  const __m128i zero = _mm_setzero_si128();
  std::vector<const uint8_t*> rows;
  for (int y = 0; y < out.height; ++y) {
    const int32_t* k = &c.taps[static_cast<size_t>(y) * c.ksize];
    const int count = c.count[y];
    rows.resize(count);
    for (int i = 0; i < count; ++i) {
      rows[i] = in.row(c.first[y] - row_shift + i) + static_cast<size_t>(col_begin) * 3;
    }
    uint8_t* dst = out.row(y);
    for (size_t j = 0; j < simd_n; j += 16) {
      __m128i low[4] = {zero, zero, zero, zero}, hi[4] = {zero, zero, zero, zero};
      for (int i = 0; i < count; i += 2) {
        const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[i] + j));
        const bool odd_last = i + 1 == count;
        const __m128i b =
            odd_last ? zero : _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[i + 1] + j));
        const int32_t w0 = k[i], w1 = odd_last ? 0 : k[i + 1];
        const __m128i wl = _mm_set1_epi32(static_cast<int32_t>(
            static_cast<uint16_t>(low15(w0)) | (static_cast<uint32_t>(low15(w1)) << 16)));
        const __m128i wh = _mm_set1_epi32(static_cast<int32_t>(
            static_cast<uint16_t>(high(w0)) | (static_cast<uint32_t>(
                                                   static_cast<uint16_t>(high(w1)))
                                               << 16)));
        const __m128i ab_lo = _mm_unpacklo_epi8(a, b), ab_hi = _mm_unpackhi_epi8(a, b);
        const __m128i q[4] = {_mm_unpacklo_epi8(ab_lo, zero), _mm_unpackhi_epi8(ab_lo, zero),
                              _mm_unpacklo_epi8(ab_hi, zero), _mm_unpackhi_epi8(ab_hi, zero)};
        for (int m = 0; m < 4; ++m) {
          low[m] = _mm_add_epi32(low[m], _mm_madd_epi16(q[m], wl));
          hi[m] = _mm_add_epi32(hi[m], _mm_madd_epi16(q[m], wh));
        }
      }
      const __m128i s01 = _mm_packs_epi32(finish(low[0], hi[0]), finish(low[1], hi[1]));
      const __m128i s23 = _mm_packs_epi32(finish(low[2], hi[2]), finish(low[3], hi[3]));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + j), _mm_packus_epi16(s01, s23));
    }
    for (size_t j = simd_n; j < n; ++j) {
      int32_t acc = kHalf;
      for (int i = 0; i < count; ++i) acc += rows[i][j] * k[i];
      dst[j] = clip8(acc);
    }
  }
}
#else
void resample_horizontal(const Image& in, int row_begin, const AxisCoefficients& c, Image& out) {
  resample_horizontal_plain(in, row_begin, c, out);
}
void resample_vertical(const Image& in, int col_begin, int row_shift, const AxisCoefficients& c,
                       Image& out) {
  resample_vertical_plain(in, col_begin, row_shift, c, out);
}
#endif

}  // namespace ptinfer::data::detail
