// The resampling filter of torchvision's Resize on PIL images (InterpolationMode), as PIL's
// Image.resize applies it: BILINEAR (the guide's default) or BICUBIC (the DEFAULT weights of
// several torchvision models, e.g. efficientnet, vit, swin, convnext).
#pragma once

#include <string>

namespace ptinfer::data {

enum class Interpolation {
  kBilinear,  // PIL.Image.BILINEAR: triangle filter, support 1
  kBicubic,   // PIL.Image.BICUBIC: cubic convolution with a = -0.5, support 2
};

// "bilinear" or "bicubic": torchvision's InterpolationMode value, as flags and configs spell it.
const char* interpolation_name(Interpolation interpolation);

// The Interpolation that `text` names ("bilinear" or "bicubic", in any letter case). Throws
// Error(kInvalidArgument) "<what> must be bilinear or bicubic, got '<text>'" for anything else,
// `what` naming the flag or config key.
Interpolation parse_interpolation(const std::string& text, const std::string& what);

}  // namespace ptinfer::data
