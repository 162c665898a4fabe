// Pillow 9.4's Image.resize(BILINEAR / BICUBIC) for 8-bit RGB (its two passes are in
// resample_kernels.cpp), restricted to the pixels a crop keeps, and torchvision 0.14's
// Resize(int) / CenterCrop size rules.
#include "data/image_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/image_decode.h"
#include "data/resample_kernels.h"

namespace ptinfer::data {
namespace {

using detail::AxisCoefficients;
using detail::axis_coefficients;
using detail::resample_horizontal;
using detail::resample_vertical;

// The pixels [x0, x1) x [y0, y1) of Pillow's resize of `image` to width x height, computed
// without the others: each output pixel depends only on its own coefficients, so this is
// bit-identical to cropping the full result. Follows Pillow's pass structure: horizontal
// pass (only over the input rows the vertical pass reads) when the width changes, vertical
// pass when the height changes.
Image resample_region(const Image& image, int width, int height, int x0, int x1, int y0, int y1,
                      Interpolation interpolation) {
  const bool need_horizontal = width != image.width;
  const bool need_vertical = height != image.height;
  Image out(x1 - x0, y1 - y0);
  if (!need_horizontal && !need_vertical) {
    for (int y = y0; y < y1; ++y) {
      std::memcpy(out.row(y - y0), image.row(y) + static_cast<size_t>(x0) * 3,
                  out.rgb.size() / out.height);
    }
    return out;
  }
  const AxisCoefficients vertical = axis_coefficients(interpolation, image.height, height, y0, y1);
  if (!need_horizontal) {
    resample_vertical(image, x0, 0, vertical, out);
    return out;
  }
  const AxisCoefficients horizontal = axis_coefficients(interpolation, image.width, width, x0, x1);
  if (!need_vertical) {  // the horizontal pass alone, over rows y0..y1
    resample_horizontal(image, y0, horizontal, out);
    return out;
  }
  // Window bounds grow with the output index, so the first and last outputs bound the rows.
  const int row_first = vertical.first.front();
  const int row_last = vertical.first.back() + vertical.count.back();
  Image temp(x1 - x0, row_last - row_first);
  resample_horizontal(image, row_first, horizontal, temp);
  resample_vertical(temp, 0, row_first, vertical, out);
  return out;
}

void check_not_empty(const Image& image, const char* what) {
  if (image.width < 1 || image.height < 1 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    throw Error(ErrorKind::kInvalidArgument,
                std::string(what) + ": input image is empty or inconsistent (" +
                    std::to_string(image.width) + "x" + std::to_string(image.height) + ")");
  }
}

void check_target_size(int width, int height) {
  if (width < 1 || height < 1) {
    throw Error(ErrorKind::kInvalidArgument, "resize: target size " + std::to_string(width) + "x" +
                                                 std::to_string(height) + " must be at least 1x1");
  }
}

}  // namespace

Image resize(const Image& image, int width, int height, Interpolation interpolation) {
  check_not_empty(image, "resize");
  check_target_size(width, height);
  if (static_cast<int64_t>(width) * height > kMaxImagePixels) {
    throw Error(ErrorKind::kUnsupported, "resize: target size " + std::to_string(width) + "x" +
                                             std::to_string(height) + " exceeds " +
                                             std::to_string(kMaxImagePixels) + " pixels");
  }
  if (width == image.width && height == image.height) return image;  // PIL returns a copy
  return resample_region(image, width, height, 0, width, 0, height, interpolation);
}

Image resize_window(const Image& image, int width, int height, const CropWindow& window,
                    Interpolation interpolation) {
  check_not_empty(image, "resize");
  check_target_size(width, height);
  if (window.width < 1 || window.height < 1 ||
      static_cast<int64_t>(window.width) * window.height > kMaxImagePixels) {
    throw Error(ErrorKind::kInvalidArgument, "resize: window " + std::to_string(window.width) +
                                                 "x" + std::to_string(window.height) +
                                                 " is empty or too large");
  }
  Image out(window.width, window.height);  // zero: the parts outside the resized image
  const int x0 = std::max(window.left, 0),
            x1 = std::min<int64_t>(int64_t{window.left} + window.width, width);
  const int y0 = std::max(window.top, 0),
            y1 = std::min<int64_t>(int64_t{window.top} + window.height, height);
  if (x0 >= x1 || y0 >= y1) return out;
  const Image region = resample_region(image, width, height, x0, x1, y0, y1, interpolation);
  for (int y = y0; y < y1; ++y) {
    std::memcpy(out.row(y - window.top) + static_cast<size_t>(x0 - window.left) * 3,
                region.row(y - y0), static_cast<size_t>(region.width) * 3);
  }
  return out;
}

Size shorter_side_resize_size(int width, int height, int size) {
  if (size < 1 || width < 1 || height < 1) {
    throw Error(ErrorKind::kInvalidArgument, "Resize: size " + std::to_string(size) +
                                                 " and image size " + std::to_string(width) + "x" +
                                                 std::to_string(height) + " must be positive");
  }
  const bool width_is_short = width <= height;  // torchvision: short is w when w <= h
  const int64_t shorter = width_is_short ? width : height;
  const int64_t longer = width_is_short ? height : width;
  // Python: int(size * long / short), a correctly rounded double division, then truncation.
  const double new_long = static_cast<double>(size * longer) / static_cast<double>(shorter);
  if (new_long >= 2147483647.0) {
    throw Error(ErrorKind::kUnsupported, "Resize: longer side of " + std::to_string(width) + "x" +
                                             std::to_string(height) + " resized to " +
                                             std::to_string(size) + " overflows");
  }
  const int long_side = static_cast<int>(new_long);
  return width_is_short ? Size{size, long_side} : Size{long_side, size};
}

Image resize_shorter_side(const Image& image, int size, Interpolation interpolation) {
  check_not_empty(image, "Resize");
  const Size s = shorter_side_resize_size(image.width, image.height, size);
  if (s.width == image.width && s.height == image.height) return image;
  return resize(image, s.width, s.height, interpolation);
}

int round_half_to_even_div2(int numerator) {
  // floor(n / 2) is the answer unless n is odd (an exact .5), then the even neighbour wins.
  const int floor_half = numerator >= 0 ? numerator / 2 : -((-numerator + 1) / 2);
  if (numerator % 2 == 0) return floor_half;
  return floor_half % 2 == 0 ? floor_half : floor_half + 1;
}

CropWindow center_crop_window(int image_height, int image_width, int crop_height, int crop_width) {
  if (crop_height < 1 || crop_width < 1 || image_height < 1 || image_width < 1) {
    throw Error(ErrorKind::kInvalidArgument,
                "CenterCrop: crop " + std::to_string(crop_width) + "x" +
                    std::to_string(crop_height) + " and image " + std::to_string(image_width) +
                    "x" + std::to_string(image_height) + " must be positive");
  }
  // torchvision pads (crop - size) // 2 before and (crop - size + 1) // 2 after, then crops
  // the padded image; we express the window in unpadded coordinates.
  const int pad_top = crop_height > image_height ? (crop_height - image_height) / 2 : 0;
  const int pad_left = crop_width > image_width ? (crop_width - image_width) / 2 : 0;
  const int padded_height = crop_height > image_height
                                ? image_height + pad_top + (crop_height - image_height + 1) / 2
                                : image_height;
  const int padded_width = crop_width > image_width
                               ? image_width + pad_left + (crop_width - image_width + 1) / 2
                               : image_width;
  CropWindow w;
  w.height = crop_height;
  w.width = crop_width;
  w.top = round_half_to_even_div2(padded_height - crop_height) - pad_top;
  w.left = round_half_to_even_div2(padded_width - crop_width) - pad_left;
  return w;
}

Image center_crop(const Image& image, int crop_height, int crop_width) {
  check_not_empty(image, "CenterCrop");
  const CropWindow w = center_crop_window(image.height, image.width, crop_height, crop_width);
  Image out(crop_width, crop_height);  // zero-initialised: the padding is black
  for (int y = 0; y < crop_height; ++y) {
    const int sy = w.top + y;
    if (sy < 0 || sy >= image.height) continue;
    const int x_begin = std::max(0, -w.left);
    const int x_end = std::min(crop_width, image.width - w.left);
    if (x_begin >= x_end) continue;
    std::memcpy(out.row(y) + static_cast<size_t>(x_begin) * 3,
                image.row(sy) + static_cast<size_t>(w.left + x_begin) * 3,
                static_cast<size_t>(x_end - x_begin) * 3);
  }
  return out;
}

}  // namespace ptinfer::data
