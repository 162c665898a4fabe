#include "data/interpolation.h"

#include <algorithm>
#include <cctype>

#include "common/error.h"

namespace ptinfer::data {

const char* interpolation_name(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::kBilinear:
      return "bilinear";
    case Interpolation::kBicubic:
      return "bicubic";
  }
  return "unknown";
}

Interpolation parse_interpolation(const std::string& text, const std::string& what) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (Interpolation i : {Interpolation::kBilinear, Interpolation::kBicubic}) {
    if (lower == interpolation_name(i)) return i;
  }
  throw Error(ErrorKind::kInvalidArgument,
              what + " must be bilinear or bicubic, got '" + text + "'");
}

}  // namespace ptinfer::data
