// JPEG through libjpeg-turbo's libjpeg API, configured as Pillow 9.4's JpegDecode.c does it:
// Debian's Pillow links this same libjpeg-turbo 2.1 and keeps libjpeg's defaults (ISLOW
// integer DCT, fancy upsampling, block smoothing), so the output bytes are identical.
//
// Why the libjpeg API and not TurboJPEG's tjDecompress2: PIL's rules for bad data are
//   * a fatal libjpeg error (error_exit) fails the image;
//   * libjpeg warnings (extraneous bytes before a marker, a damaged restart interval, ...)
//     are ignored and the decoded pixels are kept (such files exist in ImageNet);
//   * needing more bytes than the file has before the last scanline is read fails
//     ("image file is truncated"); a file that only lacks its trailing EOI marker after
//     the last scanline does not.
// TurboJPEG reports a fatal error that follows a warning as TJERR_WARNING, so these cases
// cannot be told apart through its API; here the error manager and the source manager see
// each event directly.
// jpeglib.h uses size_t and FILE without including their headers.
#include <cstddef>
#include <cstdio>
// (kept apart so that include sorting leaves them first)
#include <jpeglib.h>

#include <csetjmp>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/image_decoders.h"

namespace ptinfer::data::detail {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg casts cinfo->err back to this struct
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void on_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void on_output_message(j_common_ptr) {}  // warnings are ignored, as in PIL

// An in-memory source that remembers when libjpeg asked for bytes beyond the end; it then
// supplies a fake EOI marker (as libjpeg's own memory source does) so decoding can stop.
struct MemorySource {
  jpeg_source_mgr pub;  // first member
  bool hit_end;
};

const JOCTET kFakeEoi[2] = {0xFF, JPEG_EOI};

void init_source(j_decompress_ptr) {}
void term_source(j_decompress_ptr) {}

boolean fill_input_buffer(j_decompress_ptr cinfo) {
  auto* src = reinterpret_cast<MemorySource*>(cinfo->src);
  src->hit_end = true;
  src->pub.next_input_byte = kFakeEoi;
  src->pub.bytes_in_buffer = 2;
  return TRUE;
}

void skip_input_data(j_decompress_ptr cinfo, long count) {
  auto* src = reinterpret_cast<MemorySource*>(cinfo->src);
  if (count <= 0) return;
  while (static_cast<size_t>(count) > src->pub.bytes_in_buffer) {
    count -= static_cast<long>(src->pub.bytes_in_buffer);
    fill_input_buffer(cinfo);
  }
  src->pub.next_input_byte += count;
  src->pub.bytes_in_buffer -= static_cast<size_t>(count);
}

// PIL opens every 4-component JPEG as CMYK with raw mode "CMYK;I" (Adobe polarity: stored
// values are inverted), then convert('RGB') applies Convert.c's cmyk2rgb:
//   nk = 255 - K;  X = clip(nk - muldiv255(C, nk))
// with C, K PIL's values. libjpeg's JCS_CMYK output is the stored data, so PIL's C is 255 - it.
inline uint8_t pil_cmyk_channel(int c, int nk) {
  const int t = c * nk + 128;  // PIL's MULDIV255: a rounded a*b/255
  const int v = nk - (((t >> 8) + t) >> 8);
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

void convert_row(const uint8_t* in, uint8_t* out, int width, int components) {
  if (components == 1) {
    for (int x = 0; x < width; ++x, out += 3) out[0] = out[1] = out[2] = in[x];
  } else {  // CMYK
    for (int x = 0; x < width; ++x, in += 4, out += 3) {
      const int nk = in[3];  // 255 - PIL's K, where PIL's K = 255 - stored K
      out[0] = pil_cmyk_channel(255 - in[0], nk);
      out[1] = pil_cmyk_channel(255 - in[1], nk);
      out[2] = pil_cmyk_channel(255 - in[2], nk);
    }
  }
}

struct DecompressGuard {
  jpeg_decompress_struct* cinfo;
  ~DecompressGuard() { jpeg_destroy_decompress(cinfo); }
};

}  // namespace

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  // Everything a longjmp must find intact is declared before setjmp, and no local with a
  // destructor is declared after it, so the jump back skips no destructor.
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  MemorySource src{};
  Image image;
  std::vector<uint8_t> row;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error_exit;
  err.pub.output_message = on_output_message;
  jpeg_create_decompress(&cinfo);
  DecompressGuard guard{&cinfo};
  if (setjmp(err.jump)) {
    if (src.hit_end) {
      throw_corrupt(name, std::string("image file is truncated (") + err.message + ")");
    }
    throw_corrupt(name, std::string("corrupt JPEG data (") + err.message + ")");
  }
  src.pub.init_source = init_source;
  src.pub.fill_input_buffer = fill_input_buffer;
  src.pub.skip_input_data = skip_input_data;
  src.pub.resync_to_restart = jpeg_resync_to_restart;
  src.pub.term_source = term_source;
  src.pub.next_input_byte = data;
  src.pub.bytes_in_buffer = size;
  cinfo.src = &src.pub;

  jpeg_read_header(&cinfo, TRUE);
  // PIL's modes by component count: 1 -> L, 3 -> RGB, 4 -> CMYK; it refuses the others.
  const int components = cinfo.num_components;
  if (components == 3) {
    cinfo.out_color_space = JCS_RGB;
  } else if (components == 1) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (components == 4) {
    cinfo.out_color_space = JCS_CMYK;  // libjpeg turns Adobe YCCK into CMYK, as for PIL
  } else {
    throw_unsupported(name, "JPEG with " + std::to_string(components) +
                                " components is not supported (PIL reads 1, 3 or 4)");
  }
  check_image_dimensions(cinfo.image_width, cinfo.image_height, name, "JPEG");
  jpeg_start_decompress(&cinfo);  // progressive files consume all their scans here
  image = Image(static_cast<int>(cinfo.output_width), static_cast<int>(cinfo.output_height));
  if (components != 3) row.resize(static_cast<size_t>(image.width) * components);
  while (cinfo.output_scanline < cinfo.output_height && !src.hit_end) {
    const int y = static_cast<int>(cinfo.output_scanline);
    JSAMPROW target = components == 3 ? image.row(y) : row.data();
    if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) break;
    if (components != 3) convert_row(row.data(), image.row(y), image.width, components);
  }
  if (src.hit_end || cinfo.output_scanline < cinfo.output_height) {
    throw_corrupt(name, "image file is truncated (data ends before the last scanline)");
  }
  // PIL finishes too (an error there counts) but does not need the EOI once all rows are in.
  jpeg_finish_decompress(&cinfo);
  return image;
}

}  // namespace ptinfer::data::detail
