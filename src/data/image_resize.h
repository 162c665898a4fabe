// Geometry transforms, bit-exact with Pillow 9.4 and torchvision 0.14 on 8-bit RGB images.
#pragma once

#include <cstddef>  // image.h uses size_t without including it

#include "data/image.h"
#include "data/interpolation.h"

namespace ptinfer::data {

// PIL's Image.resize((width, height), Image.BILINEAR or Image.BICUBIC) on an RGB image:
// antialiased (the filter's support widens with the downscale factor), fixed-point,
// horizontal pass then vertical pass, each skipped when its dimension is unchanged; an
// unchanged size returns a copy. Throws Error(kInvalidArgument) when width or height < 1 or
// the input is empty, Error(kUnsupported) when the target exceeds kMaxImagePixels.
Image resize(const Image& image, int width, int height, Interpolation interpolation);

struct Size {
  int width = 0;
  int height = 0;
};

// torchvision 0.14 Resize(size) (an int): the shorter side becomes `size`, the longer
// int(size * long / short) (computed in double, truncated). Throws Error(kInvalidArgument)
// when size < 1 or the image is empty.
Size shorter_side_resize_size(int width, int height, int size);

// transforms.Resize(size, interpolation)(image) for an int size: resize to
// shorter_side_resize_size, or a copy when that is the image's own size.
Image resize_shorter_side(const Image& image, int size, Interpolation interpolation);

// Python's round() of `numerator / 2.0` (round half to even), as torchvision's center_crop
// computes crop_top = int(round((height - crop_height) / 2.0)).
int round_half_to_even_div2(int numerator);

// Where torchvision 0.14 CenterCrop((crop_height, crop_width)) takes its window, in the
// input's coordinates. When the crop is larger than the image torchvision first pads with
// zeros ((crop - size) // 2 before, the rest after), so top/left are then negative and the
// pixels outside the image are black.
struct CropWindow {
  int top = 0;
  int left = 0;
  int height = 0;
  int width = 0;
};
CropWindow center_crop_window(int image_height, int image_width, int crop_height, int crop_width);

// The pixels of resize(image, width, height, interpolation) inside `window`, which may reach
// past the resized image (those pixels are zero, like center_crop's padding), computed without
// the pixels outside it: bit-identical to cropping the full resize, and cheaper. Throws
// Error(kInvalidArgument) as resize, or for an empty window.
Image resize_window(const Image& image, int width, int height, const CropWindow& window,
                    Interpolation interpolation);

// transforms.CenterCrop((crop_height, crop_width))(image), zero padding included. Throws
// Error(kInvalidArgument) for crop sizes < 1.
Image center_crop(const Image& image, int crop_height, int crop_width);

}  // namespace ptinfer::data
