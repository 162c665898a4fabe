// Internal to src/data: the per-format decoders behind decode_image (image_decode.h). Each
// takes data whose magic bytes already matched its format and throws ptinfer::Error with a
// message starting "<name>: ".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image.h"

namespace ptinfer::data::detail {

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name);
Image decode_png(const uint8_t* data, size_t size, const std::string& name);
Image decode_bmp(const uint8_t* data, size_t size, const std::string& name);

// Throws Error(kCorruptData) for a zero dimension and Error(kUnsupported) when
// width * height exceeds kMaxImagePixels; `format` names the format in the message.
void check_image_dimensions(int64_t width, int64_t height, const std::string& name,
                            const char* format);

// Error(kCorruptData, name + ": " + reason) / Error(kUnsupported, ...), thrown.
[[noreturn]] void throw_corrupt(const std::string& name, const std::string& reason);
[[noreturn]] void throw_unsupported(const std::string& name, const std::string& reason);

}  // namespace ptinfer::data::detail
