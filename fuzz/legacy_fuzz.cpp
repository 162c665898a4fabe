// libFuzzer target: the legacy (pre-1.6) torch.save reader, read_legacy_checkpoint: five
// pickles back to back, then the raw storages, from a memory-mapped file.
#include <cstddef>
#include <cstdint>

#include "checkpoint/legacy_format.h"
#include "checkpoint/mapped_file.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ptinfer;
  static fuzz::InputFile file(".pth");
  const std::string& path = file.write(data, size);
  fuzz::expect_only_ptinfer_errors([&] {
    checkpoint::MappedFile mapped(path);
    if (!checkpoint::is_legacy_format(mapped.data(), mapped.size())) return;
    checkpoint::Unpickled u = checkpoint::read_legacy_checkpoint(path, mapped);
    fuzz::check_value(u.root);
  });
  return 0;
}
