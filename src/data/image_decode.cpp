// Format detection, file reading and dispatch to the per-format decoders.
#include "data/image_decode.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "common/error.h"
#include "data/image_decoders.h"

namespace ptinfer::data {
namespace detail {

void throw_corrupt(const std::string& name, const std::string& reason) {
  throw Error(ErrorKind::kCorruptData, name + ": " + reason);
}

void throw_unsupported(const std::string& name, const std::string& reason) {
  throw Error(ErrorKind::kUnsupported, name + ": " + reason);
}

void check_image_dimensions(int64_t width, int64_t height, const std::string& name,
                            const char* format) {
  if (width <= 0 || height <= 0) {
    throw_corrupt(name, std::string(format) + " header gives an empty image (" +
                            std::to_string(width) + "x" + std::to_string(height) + ")");
  }
  // Each factor is checked alone first: two 32-bit dimensions can overflow int64 when
  // multiplied (found by fuzz/image_decode_fuzz: a BMP header of 4244307975 x 4261215484).
  if (width > kMaxImagePixels || height > kMaxImagePixels || width * height > kMaxImagePixels) {
    throw_unsupported(name, std::string(format) + " image of " + std::to_string(width) + "x" +
                                std::to_string(height) + " pixels exceeds the limit of " +
                                std::to_string(kMaxImagePixels) + " pixels");
  }
}

}  // namespace detail

ImageFormat detect_image_format(const uint8_t* data, size_t size) {
  auto starts_with = [&](const char* magic, size_t n, size_t at = 0) {
    return size >= at + n && std::memcmp(data + at, magic, n) == 0;
  };
  // PIL's JpegImagePlugin accepts FF D8 FF; the PNG signature is 8 bytes; BMP is "BM".
  if (starts_with("\xFF\xD8\xFF", 3)) return ImageFormat::kJpeg;
  if (starts_with("\x89PNG\r\n\x1A\n", 8)) return ImageFormat::kPng;
  if (starts_with("BM", 2)) return ImageFormat::kBmp;
  if (starts_with("GIF87a", 6) || starts_with("GIF89a", 6)) return ImageFormat::kGif;
  if (starts_with("RIFF", 4) && starts_with("WEBP", 4, 8)) return ImageFormat::kWebp;
  if (starts_with("II*\0", 4) || starts_with("MM\0*", 4)) return ImageFormat::kTiff;
  return ImageFormat::kUnknown;
}

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kGif:
      return "GIF";
    case ImageFormat::kWebp:
      return "WebP";
    case ImageFormat::kTiff:
      return "TIFF";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  if (size == 0) detail::throw_corrupt(name, "empty file (0 bytes), not an image");
  const ImageFormat format = detect_image_format(data, size);
  switch (format) {
    case ImageFormat::kJpeg:
      return detail::decode_jpeg(data, size, name);
    case ImageFormat::kPng:
      return detail::decode_png(data, size, name);
    case ImageFormat::kBmp:
      return detail::decode_bmp(data, size, name);
    case ImageFormat::kUnknown:
      detail::throw_corrupt(name,
                            "cannot identify image file: leading bytes match no JPEG, "
                            "PNG or BMP signature");
    default:
      detail::throw_unsupported(name, std::string(image_format_name(format)) +
                                          " images are not supported (only JPEG, PNG, BMP)");
  }
}

Image decode_image_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorKind::kNotFound, path + ": is a directory, not an image file");
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(ErrorKind::kNotFound, path + ": cannot open image file");
  const std::streamoff end = in.tellg();
  if (end < 0) throw Error(ErrorKind::kNotFound, path + ": cannot read image file");
  if (end > kMaxImageFileBytes) {
    detail::throw_unsupported(path, "file of " + std::to_string(end) +
                                        " bytes exceeds the image file limit of " +
                                        std::to_string(kMaxImageFileBytes) + " bytes");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(end));
  in.seekg(0);
  if (!bytes.empty() && !in.read(reinterpret_cast<char*>(bytes.data()), end)) {
    throw Error(ErrorKind::kCorruptData, path + ": read error");
  }
  return decode_image(bytes.data(), bytes.size(), path);
}

}  // namespace ptinfer::data
