// libFuzzer target: the safetensors reader (read_safetensors: JSON header, offsets, dtypes),
// then the inspect summary of what it read.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "checkpoint/safetensors.h"
#include "checkpoint/summary.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ptinfer;
  static fuzz::InputFile file(".safetensors");
  const std::string& path = file.write(data, size);
  fuzz::expect_only_ptinfer_errors([&] {
    std::map<std::string, std::string> metadata;
    checkpoint::StateDict sd = checkpoint::read_safetensors(path, &metadata);
    for (const auto& entry : sd) fuzz::check_tensor(entry.second);
    checkpoint::summarize_state_dict(sd);
  });
  return 0;
}
