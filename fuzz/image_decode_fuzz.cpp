// libFuzzer target: the image decoders behind data::decode_image (libjpeg-turbo and libpng with
// our settings and colour conversions, our BMP reader), fed from memory as the server feeds
// request bodies. The seed corpus holds JPEG, PNG and BMP files.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "common/error.h"
#include "data/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ptinfer;
  try {
    data::Image img = data::decode_image(data, size, "fuzz");
    if (img.width <= 0 || img.height <= 0 ||
        img.rgb.size() != static_cast<size_t>(img.width) * img.height * 3) {
      std::fprintf(stderr, "FUZZ FINDING: decode_image returned a %dx%d image of %zu bytes\n",
                   img.width, img.height, img.rgb.size());
      std::abort();
    }
  } catch (const Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FUZZ FINDING: unexpected exception: %s\n", e.what());
    std::abort();
  }
  return 0;
}
