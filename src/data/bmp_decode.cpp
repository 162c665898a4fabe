// BMP, read here: no Debian library decodes BMP cheaply (libpng/libjpeg do not, and pulling
// in a general image library for one simple uncompressed format is not worth it). The rules
// follow Pillow 9.4's BmpImagePlugin so that the pixels equal PIL's convert('RGB'):
//   * file header "BM", pixel data at bfOffBits; info headers of 12 (OS/2), 40, 64, 108 or
//     124 bytes; widths and heights read as unsigned, a height whose top byte is 0xFF is a
//     top-down image (PIL's y_flip test), otherwise bottom-up;
//   * palette right after the info header, biClrUsed entries (0: 2^bits) of 4 bytes (3 for
//     OS/2); when bfOffBits points right after the info header PIL skips the palette size;
//   * 1/4/8-bit palette (MSB-first packing), 24-bit BGR, 32-bit BGRX, and BITFIELDS with
//     PIL's byte-aligned masks for 24 and 32 bits; rows padded to 4 bytes.
// PIL also reads RLE4/RLE8 and 16-bit BMPs; those are Error(kUnsupported) here.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/image_decoders.h"

namespace ptinfer::data::detail {
namespace {

uint32_t le32(const uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint32_t le16(const uint8_t* p) { return p[0] | (p[1] << 8); }

constexpr uint32_t kBiRgb = 0, kBiRle8 = 1, kBiRle4 = 2, kBiBitfields = 3;

// Byte offsets of R, G, B inside a 32-bit (or 24-bit) little-endian pixel for PIL's
// supported BITFIELDS masks; false when PIL would refuse the layout.
bool bitfield_offsets(uint32_t bits, uint32_t r, uint32_t g, uint32_t b, uint32_t a,
                      int offsets[3]) {
  auto byte_of = [](uint32_t mask) {
    for (int i = 0; i < 4; ++i) {
      if (mask == (0xFFu << (8 * i))) return i;
    }
    return -1;
  };
  if (bits == 24) {
    if (r != 0xFF0000 || g != 0xFF00 || b != 0xFF) return false;
  } else {
    // PIL's accepted 32-bit layouts (rgba masks): BGRX, XBGR, ABGR, RGBA, BGRA, and all-zero
    // masks, which it reads as BGRA.
    const bool all_zero = r == 0 && g == 0 && b == 0 && a == 0;
    if (all_zero) {
      r = 0xFF0000, g = 0xFF00, b = 0xFF;
    } else {
      const bool ok = (r == 0xFF0000 && g == 0xFF00 && b == 0xFF && (a == 0 || a == 0xFF000000)) ||
                      (r == 0xFF000000 && g == 0xFF0000 && b == 0xFF00 && (a == 0 || a == 0xFF)) ||
                      (r == 0xFF && g == 0xFF00 && b == 0xFF0000 && a == 0xFF000000);
      if (!ok) return false;
    }
  }
  offsets[0] = byte_of(r);
  offsets[1] = byte_of(g);
  offsets[2] = byte_of(b);
  return true;
}

}  // namespace

Image decode_bmp(const uint8_t* data, size_t size, const std::string& name) {
  if (size < 18) throw_corrupt(name, "truncated BMP file header");
  const uint32_t pixel_offset_field = le32(data + 10);
  const uint32_t header_size = le32(data + 14);
  if (header_size != 12 && header_size != 40 && header_size != 64 && header_size != 108 &&
      header_size != 124) {
    throw_unsupported(
        name, "unsupported BMP header type (" + std::to_string(header_size) + "-byte info header)");
  }
  if (size < 14 + static_cast<size_t>(header_size)) throw_corrupt(name, "truncated BMP header");
  const uint8_t* h = data + 18;  // info header after its size field
  int64_t width = 0, height = 0;
  uint32_t bits = 0, compression = kBiRgb, colors = 0, palette_entry = 4;
  bool top_down = false;
  size_t after_header = 14 + header_size;
  uint32_t masks[4] = {0, 0, 0, 0};
  if (header_size == 12) {
    width = le16(h);
    height = le16(h + 2);
    bits = le16(h + 6);
    palette_entry = 3;
  } else {
    width = le32(h);
    top_down = h[7] == 0xFF;
    height = top_down ? (int64_t{1} << 32) - le32(h + 4) : le32(h + 4);
    bits = le16(h + 10);
    compression = le32(h + 12);
    colors = le32(h + 28);
    if (compression == kBiBitfields) {
      if (header_size >= 56) {
        for (int i = 0; i < 4; ++i) masks[i] = le32(h + 36 + 4 * i);
      } else {  // 40-byte header: three masks follow it
        if (size < after_header + 12) throw_corrupt(name, "truncated BMP bitfield masks");
        for (int i = 0; i < 3; ++i) masks[i] = le32(data + after_header + 4 * i);
        after_header += 12;
      }
    }
  }
  if (colors == 0) colors = bits < 32 ? (1u << bits) : 0;

  const std::string variant = std::to_string(bits) + "-bit";
  if (bits != 1 && bits != 4 && bits != 8 && bits != 24 && bits != 32) {
    throw_unsupported(name, variant + " BMP is not supported (only 1/4/8/24/32-bit)");
  }
  int channel_offsets[3] = {2, 1, 0};  // BI_RGB: B G R (X)
  if (compression == kBiRle8 || compression == kBiRle4) {
    throw_unsupported(name, std::string(compression == kBiRle8 ? "RLE8" : "RLE4") +
                                "-compressed BMP is not supported");
  } else if (compression == kBiBitfields) {
    if ((bits != 24 && bits != 32) ||
        !bitfield_offsets(bits, masks[0], masks[1], masks[2], masks[3], channel_offsets)) {
      throw_unsupported(name, "unsupported BMP bitfields layout (" + variant + ")");
    }
  } else if (compression != kBiRgb) {
    throw_unsupported(name, "unsupported BMP compression (" + std::to_string(compression) + ")");
  }
  check_image_dimensions(width, height, name, "BMP");

  // Palette, as PIL's ImagePalette.raw("BGRX"/"BGR"): entries past the file's read (i, i, i),
  // PIL's default gray ramp.
  uint8_t palette[256 * 3];
  for (int i = 0; i < 256; ++i) palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = i;
  size_t pixel_offset = pixel_offset_field;
  if (bits <= 8) {
    if (colors == 0 || colors > 65536) {
      throw_unsupported(name, "unsupported BMP palette size (" + std::to_string(colors) + ")");
    }
    if (pixel_offset == 14 + static_cast<size_t>(header_size)) pixel_offset += 4 * colors;
    const size_t available = after_header < size ? (size - after_header) / palette_entry : 0;
    const size_t entries = std::min<size_t>({colors, available, 256});
    for (size_t i = 0; i < entries; ++i) {
      const uint8_t* e = data + after_header + i * palette_entry;
      palette[3 * i] = e[2];
      palette[3 * i + 1] = e[1];
      palette[3 * i + 2] = e[0];
    }
  }

  const size_t stride = ((static_cast<size_t>(width) * bits + 31) >> 3) & ~size_t{3};
  if (pixel_offset > size || (size - pixel_offset) / stride < static_cast<size_t>(height)) {
    throw_corrupt(name, "image file is truncated (" + std::to_string(size) +
                            " bytes cannot hold a " + std::to_string(width) + "x" +
                            std::to_string(height) + " " + variant + " BMP)");
  }
  Image image(static_cast<int>(width), static_cast<int>(height));
  const int bytes_per_pixel = static_cast<int>(bits / 8);
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* in = data + pixel_offset + stride * static_cast<size_t>(y);
    uint8_t* out = image.row(static_cast<int>(top_down ? y : height - 1 - y));
    if (bits >= 24) {
      for (int64_t x = 0; x < width; ++x, in += bytes_per_pixel, out += 3) {
        out[0] = in[channel_offsets[0]];
        out[1] = in[channel_offsets[1]];
        out[2] = in[channel_offsets[2]];
      }
    } else {
      const int per_byte = 8 / static_cast<int>(bits);
      const int mask = (1 << bits) - 1;
      for (int64_t x = 0; x < width; ++x, out += 3) {
        const int shift = 8 - static_cast<int>(bits) * (1 + static_cast<int>(x % per_byte));
        const int index = (in[x / per_byte] >> shift) & mask;
        std::memcpy(out, palette + 3 * index, 3);
      }
    }
  }
  return image;
}

}  // namespace ptinfer::data::detail
