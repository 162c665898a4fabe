// Decoding image files to 8-bit RGB, byte-for-byte as `PIL.Image.open(path).convert('RGB')`
// with Debian's Pillow 9.4 (which links the same libjpeg-turbo 2.1 that TurboJPEG wraps).
//
// Formats (detected from the leading bytes, never from the file name):
//   JPEG  baseline and progressive; YCbCr (any subsampling), RGB, grayscale, CMYK and Adobe
//         YCCK (PIL's CMYK -> RGB formula). Truncated data is an error, as in PIL.
//   PNG   every bit depth and colour type, palette with or without tRNS, interlaced.
//         Alpha and tRNS are dropped (convert('RGB') ignores them); 16-bit gray clips to
//         0..255 as PIL's mode 'I' does; other 16-bit samples keep their high byte.
//   BMP   uncompressed 1/4/8-bit palette, 24-bit, 32-bit (and 24/32-bit BITFIELDS with the
//         byte-aligned masks PIL accepts), bottom-up and top-down.
// Everything else (GIF, WebP, TIFF, RLE or 16-bit BMP, ...) is Error(kUnsupported).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "data/image.h"

namespace ptinfer::data {

enum class ImageFormat { kUnknown, kJpeg, kPng, kBmp, kGif, kWebp, kTiff };

// PIL's DecompressionBombError threshold (2 * Image.MAX_IMAGE_PIXELS): images with more
// pixels are refused before any pixel buffer is allocated.
constexpr int64_t kMaxImagePixels = 2 * int64_t{89478485};

// The largest file decode_image_file reads (bytes).
constexpr int64_t kMaxImageFileBytes = int64_t{1} << 30;

// The format announced by the first bytes of `data` (kUnknown when none matches).
ImageFormat detect_image_format(const uint8_t* data, size_t size);

// Short name of a format ("JPEG", "PNG", ...), for messages.
const char* image_format_name(ImageFormat format);

// Decodes an in-memory file. `name` (a path or request id) starts every error message.
// Throws Error(kCorruptData, "<name>: <reason>") for empty, truncated, corrupt or
// unrecognised data, Error(kUnsupported, ...) for a recognised but unsupported format or
// variant and for images over kMaxImagePixels. Never returns an empty image.
Image decode_image(const uint8_t* data, size_t size, const std::string& name);

// Reads and decodes the file at `path`. Throws Error(kNotFound) when it cannot be opened,
// Error(kUnsupported) for files over kMaxImageFileBytes, else as decode_image.
Image decode_image_file(const std::string& path);

}  // namespace ptinfer::data
