// PNG through libpng, with the sample conversions done here so that they follow Pillow 9.4's
// PngImagePlugin modes and convert('RGB') exactly:
//   gray 1/2/4/8-bit    -> L (values scaled by 255/(2^bits-1)) -> R=G=B
//   gray 16-bit         -> mode I (0..65535) -> RGB clips to 255
//   gray+alpha 8/16     -> LA / RGBA (high byte) -> alpha dropped
//   RGB, RGBA 8/16-bit  -> high byte of 16-bit samples; alpha dropped
//   palette 1/2/4/8-bit -> P -> palette lookup; tRNS ignored (it only matters for RGBA)
// libpng only unpacks sub-byte samples (png_set_packing) and de-interlaces; no gamma,
// no expansion, no 16->8 reduction. Errors longjmp back to decode_png and become Error.
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/image_decode.h"
#include "data/image_decoders.h"

namespace ptinfer::data::detail {
namespace {

struct PngSource {
  const uint8_t* data;
  size_t size;
  size_t pos;
  char message[256];  // set by the error callback before it longjmps
};

void png_error_callback(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof(src->message), "%s", message ? message : "libpng error");
  png_longjmp(png, 1);
}

void png_warning_callback(png_structp, png_const_charp) {}  // PIL ignores them too

void png_read_callback(png_structp png, png_bytep out, png_size_t length) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (length > src->size - src->pos) png_error(png, "image file is truncated");
  std::memcpy(out, src->data + src->pos, length);
  src->pos += length;
}

struct PngReadGuard {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadGuard() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};

// Converts one unpacked row (one sample per byte for depth <= 8, big-endian pairs for 16) to
// RGB. `palette` has 256 entries.
void convert_row(const uint8_t* in, uint8_t* out, int width, int color_type, int depth,
                 const uint8_t* palette) {
  const bool wide = depth == 16;
  switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: {
      if (wide) {  // PIL's I -> RGB clips: anything over 255 is white
        for (int x = 0; x < width; ++x, out += 3) {
          const uint8_t v = in[2 * x] ? 255 : in[2 * x + 1];
          out[0] = out[1] = out[2] = v;
        }
      } else {
        const int scale = 255 / ((1 << depth) - 1);  // 255, 85, 17, 1: PIL's L;1/L;2/L;4/L
        for (int x = 0; x < width; ++x, out += 3) {
          out[0] = out[1] = out[2] = static_cast<uint8_t>(in[x] * scale);
        }
      }
      break;
    }
    case PNG_COLOR_TYPE_GRAY_ALPHA: {
      const int step = wide ? 4 : 2;
      for (int x = 0; x < width; ++x, out += 3) out[0] = out[1] = out[2] = in[x * step];
      break;
    }
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_RGB_ALPHA: {
      const int channels = color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
      const int bytes = wide ? 2 : 1;
      for (int x = 0; x < width; ++x, out += 3) {
        const uint8_t* p = in + static_cast<size_t>(x) * channels * bytes;
        out[0] = p[0];
        out[1] = p[bytes];
        out[2] = p[2 * bytes];
      }
      break;
    }
    case PNG_COLOR_TYPE_PALETTE: {
      for (int x = 0; x < width; ++x, out += 3) std::memcpy(out, palette + 3 * in[x], 3);
      break;
    }
  }
}

}  // namespace

Image decode_png(const uint8_t* data, size_t size, const std::string& name) {
  PngSource src{data, size, 0, "libpng error"};
  PngReadGuard guard;
  guard.png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_error_callback, png_warning_callback);
  if (!guard.png) throw Error(ErrorKind::kInternal, name + ": cannot create a libpng reader");
  guard.info = png_create_info_struct(guard.png);
  if (!guard.info) throw Error(ErrorKind::kInternal, name + ": cannot create a libpng reader");

  // Everything that must survive a longjmp lives above setjmp; nothing below it between
  // setjmp and the last libpng call owns memory except `raw` and `image`, whose storage is
  // declared here so that a longjmp skips no destructor.
  std::vector<uint8_t> raw;
  std::vector<png_bytep> rows;
  uint8_t palette[256 * 3] = {};
  Image image;
  bool too_large = false;
  bool too_small = false;
  png_uint_32 width = 0, height = 0;
  if (setjmp(png_jmpbuf(guard.png))) {
    throw_corrupt(name, std::string("corrupt PNG data (") + src.message + ")");
  }
  png_set_read_fn(guard.png, &src, png_read_callback);
  // PIL does not enforce libpng's default 1,000,000-pixel row limits; our own limit is below.
  png_set_user_limits(guard.png, 0x7fffffff, 0x7fffffff);
  png_read_info(guard.png, guard.info);
  int depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(guard.png, guard.info, &width, &height, &depth, &color_type, &interlace, nullptr,
               nullptr);
  const int64_t pixels = static_cast<int64_t>(width) * height;
  if (width == 0 || height == 0 || pixels > kMaxImagePixels) {
    too_large = true;
  } else {
    png_set_packing(guard.png);  // 1/2/4-bit samples to one byte each, values unscaled
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(guard.png);
    png_read_update_info(guard.png, guard.info);
    const size_t rowbytes = png_get_rowbytes(guard.png, guard.info);
    // zlib cannot compress better than about 1032:1; a file far too small for its declared
    // size is truncated, and we say so before allocating for it.
    if (static_cast<double>(rowbytes + 1) * height > 1100.0 * static_cast<double>(size) + 4096) {
      too_small = true;
    } else {
      if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp plte = nullptr;
        int count = 0;
        // PIL's palette starts as a gray ramp, so an index past the PLTE entries reads
        // (i, i, i); the file's entries overwrite the start.
        for (int i = 0; i < 256; ++i) palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = i;
        if (png_get_PLTE(guard.png, guard.info, &plte, &count) & PNG_INFO_PLTE) {
          for (int i = 0; i < count && i < 256; ++i) {
            palette[3 * i] = plte[i].red;
            palette[3 * i + 1] = plte[i].green;
            palette[3 * i + 2] = plte[i].blue;
          }
        }
      }
      raw.resize(rowbytes * height);
      rows.resize(height);
      for (png_uint_32 y = 0; y < height; ++y) rows[y] = raw.data() + rowbytes * y;
      png_read_image(guard.png, rows.data());
      // Like PIL, stop after the image data: a missing or damaged IEND is not an error.
      image = Image(static_cast<int>(width), static_cast<int>(height));
      for (png_uint_32 y = 0; y < height; ++y) {
        convert_row(rows[y], image.row(static_cast<int>(y)), static_cast<int>(width), color_type,
                    depth, palette);
      }
    }
  }
  if (too_large) check_image_dimensions(width, height, name, "PNG");
  if (too_small) {
    throw_corrupt(name, "image file is truncated (" + std::to_string(size) +
                            " bytes cannot hold a " + std::to_string(width) + "x" +
                            std::to_string(height) + " PNG)");
  }
  return image;
}

}  // namespace ptinfer::data::detail
