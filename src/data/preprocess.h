// The validation transform of the guide's sample, bit-exact with torchvision 0.14 on PIL images:
//   PIL.Image.open(path).convert('RGB') -> Resize(resize_size, interpolation)
//   -> CenterCrop(crop_size) -> ToTensor() -> Normalize(mean, std)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image.h"
#include "data/interpolation.h"

namespace ptinfer::data {

struct PreprocessOptions {
  int resize_size = 256;                                 // shorter side after Resize; 0 = no resize
  int crop_size = 224;                                   // CenterCrop to crop_size x crop_size
  Interpolation interpolation = Interpolation::kBilinear;  // Resize's filter (as torchvision's)
  std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};  // Normalize mean, per channel
  std::array<float, 3> std = {0.229f, 0.224f, 0.225f};   // Normalize std, per channel (> 0)
};

// `options` fitted to the input size `input_size` that a model's weights fix (a ViT's positional
// embedding, engine::ModelInfo::input_size; 0 when they fix none, which returns `options`
// unchanged). The crop becomes input_size and, unless `resize_given` (the resize was given
// explicitly), the resize keeps the resize:crop ratio, round(input_size * resize / crop): the
// guide's 256:224 gives 439 for 384, a preset whose resize equals its crop keeps them equal, no
// resize stays none. Throws Error(kInvalidArgument) naming `weights` when `crop_given` (the crop
// size was given explicitly) and it differs from input_size.
PreprocessOptions fit_input_size(const PreprocessOptions& options, int64_t input_size,
                                 bool crop_given, bool resize_given, const std::string& weights);

// Number of floats preprocess_image writes: 3 * crop_size * crop_size.
size_t preprocessed_size(const PreprocessOptions& options);

// Resize + CenterCrop + ToTensor + Normalize of a decoded image. Writes
// preprocessed_size(options) floats to `out` as CHW. Throws Error(kInvalidArgument) for
// non-positive sizes or std.
void preprocess_image(const Image& image, const PreprocessOptions& options, float* out);

// Decodes the file at `path` (see image_decode.h) and preprocesses it into `out`.
// Throws Error(kCorruptData / kNotFound) naming the path and the decoder's reason.
void preprocess_file(const std::string& path, const PreprocessOptions& options, float* out);

}  // namespace ptinfer::data
