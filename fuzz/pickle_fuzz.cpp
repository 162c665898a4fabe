// libFuzzer target: the allow-listed pickle interpreter (checkpoint::read_pickle) on raw bytes,
// as it reads a checkpoint's data.pkl. Storages come from a loader that, like the zip and legacy
// readers, refuses sizes its "file" cannot hold (here: 1 MiB) and returns zeroed memory.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>

#include "checkpoint/pickle_reader.h"
#include "common/error.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ptinfer;
  checkpoint::StorageLoader loader = [](const std::string& key, c10::ScalarType dtype,
                                        int64_t numel) {
    if (numel < 0 || static_cast<uint64_t>(numel) > (uint64_t{1} << 20) / c10::elementSize(dtype)) {
      throw Error(ErrorKind::kCorruptData, "fuzz: storage '" + key + "' too large");
    }
    return at::zeros({numel}, at::TensorOptions().dtype(dtype));
  };
  fuzz::expect_only_ptinfer_errors([&] {
    checkpoint::Unpickled u = checkpoint::read_pickle(data, size, loader, "fuzz: data.pkl");
    if (u.end == 0 || u.end > size) fuzz::finding("read_pickle consumed past its input");
    fuzz::check_value(u.root);
  });
  return 0;
}
