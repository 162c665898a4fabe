// The validation transform. Only the resized pixels that CenterCrop keeps are computed
// (resize_window; zero outside the resized image, as torchvision's padding), and
// each byte goes through a 256-entry table per channel holding torchvision's float32 result
//   (float(v) / 255.0f - mean[c]) / std[c]
// which ToTensor (byte tensor .div(255)) and Normalize (sub_(mean).div_(std)) compute
// element-wise in exactly this order; the table only avoids recomputing it per pixel.
#include "data/preprocess.h"

#include <cmath>
#include <string>

#include "common/error.h"
#include "data/image_decode.h"
#include "data/image_resize.h"

namespace ptinfer::data {
namespace {

void check_options(const PreprocessOptions& options) {
  if (options.resize_size < 0 || options.crop_size < 1) {
    throw Error(ErrorKind::kInvalidArgument, "preprocess: resize_size (" +
                                                 std::to_string(options.resize_size) +
                                                 ") must be >= 0 and crop_size (" +
                                                 std::to_string(options.crop_size) + ") >= 1");
  }
  for (int c = 0; c < 3; ++c) {
    if (!(options.std[c] > 0.0f)) {
      throw Error(ErrorKind::kInvalidArgument, "preprocess: std[" + std::to_string(c) +
                                                   "] = " + std::to_string(options.std[c]) +
                                                   " must be positive");
    }
  }
}

}  // namespace

PreprocessOptions fit_input_size(const PreprocessOptions& options, int64_t input_size,
                                 bool crop_given, bool resize_given, const std::string& weights) {
  if (input_size <= 0 || input_size == options.crop_size) return options;
  const std::string size = std::to_string(input_size);
  if (crop_given) {
    throw Error(ErrorKind::kInvalidArgument,
                "crop size " + std::to_string(options.crop_size) + " does not fit " + weights +
                    ": its weights fix the input size to " + size + "x" + size +
                    " (give crop size " + size + ", or leave it out and it follows the weights)");
  }
  PreprocessOptions p = options;
  if (!resize_given && p.resize_size > 0) {
    p.resize_size = static_cast<int>(
        std::lround(static_cast<double>(input_size) * p.resize_size / options.crop_size));
  }
  p.crop_size = static_cast<int>(input_size);
  return p;
}

size_t preprocessed_size(const PreprocessOptions& options) {
  const size_t crop = options.crop_size > 0 ? static_cast<size_t>(options.crop_size) : 0;
  return 3 * crop * crop;
}

void preprocess_image(const Image& image, const PreprocessOptions& options, float* out) {
  check_options(options);
  if (image.width < 1 || image.height < 1) {
    throw Error(ErrorKind::kInvalidArgument, "preprocess: input image is empty");
  }
  const int crop = options.crop_size;
  // Resize then CenterCrop, computing only the resized pixels the crop keeps.
  Image cropped;
  if (options.resize_size > 0) {
    const Size s = shorter_side_resize_size(image.width, image.height, options.resize_size);
    const CropWindow w = center_crop_window(s.height, s.width, crop, crop);
    cropped = s.width == image.width && s.height == image.height
                  ? center_crop(image, crop, crop)  // torchvision's Resize is then a no-op
                  : resize_window(image, s.width, s.height, w, options.interpolation);
  } else {
    cropped = center_crop(image, crop, crop);
  }

  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float x = static_cast<float>(v) / 255.0f;
      table[c][v] = (x - options.mean[c]) / options.std[c];
    }
  }
  const size_t plane = static_cast<size_t>(crop) * crop;
  const uint8_t* p = cropped.rgb.data();
  for (size_t i = 0; i < plane; ++i, p += 3) {
    out[i] = table[0][p[0]];
    out[plane + i] = table[1][p[1]];
    out[2 * plane + i] = table[2][p[2]];
  }
}

void preprocess_file(const std::string& path, const PreprocessOptions& options, float* out) {
  check_options(options);  // before the decode, so a bad option is reported as such
  preprocess_image(decode_image_file(path), options, out);
}

}  // namespace ptinfer::data
