// libFuzzer target: torch.save's zip container. First our central-directory reader
// (read_zip_directory) on its own, then what load_checkpoint does with a zip file: TorchZip
// (LibTorch's PyTorchStreamReader behind our record checks), data.pkl through the unpickler,
// each storage record through TorchZip::read_storage.
#include <cstddef>
#include <cstdint>

#include "checkpoint/pickle_reader.h"
#include "checkpoint/torch_zip.h"
#include "checkpoint/zip_directory.h"
#include "fuzz_util.h"

// Without LeakSanitizer: checking for leaks after every input (a scan of LibTorch's heap) slows
// this target from ~150 to ~12 inputs/s. The zip reader's leaks are checked by `./setup.sh
// sanitize` (checkpoint_tests refuses every broken archive of make_checkpoint_fixtures.py);
// LibTorch 1.13's PyTorchStreamReader leaks miniz's state whenever its constructor throws after
// opening the archive, which TorchZip prevents by checking the same things first.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ptinfer;
  static fuzz::InputFile file(".pt");
  const std::string& path = file.write(data, size);
  bool directory_ok = false;
  fuzz::expect_only_ptinfer_errors([&] {
    checkpoint::read_zip_directory(path, size);
    directory_ok = true;
  });
  // TorchZip reads the same directory and refuses it too; skipping it here keeps the run fast
  // (each LibTorch c10::Error records a symbolized backtrace, ~20 ms).
  if (!directory_ok) return 0;
  fuzz::expect_only_ptinfer_errors([&] {
    checkpoint::TorchZip zip(path);
    const std::string pickle = zip.read_record("data.pkl");
    checkpoint::StorageLoader loader = [&zip](const std::string& key, c10::ScalarType dtype,
                                              int64_t numel) {
      return zip.read_storage(key, dtype, numel);
    };
    checkpoint::Unpickled u =
        checkpoint::read_pickle(pickle.data(), pickle.size(), loader, path + ": data.pkl");
    fuzz::check_value(u.root);
  });
  return 0;
}
