// Shared by the checkpoint fuzz targets (see fuzz/CMakeLists.txt and docs/architecture.md,
// "Safety and fuzzing"). A fuzz target may see only ptinfer::Error from the code it tests: any
// other exception, a crash, a sanitizer report, a tensor that reads outside its storage or an
// allocation beyond libFuzzer's -malloc_limit_mb is a finding.
#pragma once

#include <ATen/ATen.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <unordered_set>
#include <vector>

#include "checkpoint/pickle_value.h"
#include "common/error.h"

namespace ptinfer::fuzz {

// Runs `body`; ptinfer::Error (bad input, reported cleanly) is the expected outcome for most
// inputs, anything else aborts with the exception's message so libFuzzer records the input.
template <typename F>
void expect_only_ptinfer_errors(F&& body) {
  try {
    body();
  } catch (const ptinfer::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FUZZ FINDING: unexpected exception: %s\n", e.what());
    std::abort();
  }
}

// The readers under test take a path: each input is written to one file per process in
// $TMPDIR (default /tmp), rewritten for every input and removed at exit.
class InputFile {
 public:
  explicit InputFile(const char* suffix) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/ptinfer_fuzz_" +
            std::to_string(::getpid()) + suffix;
  }
  ~InputFile() { std::remove(path_.c_str()); }
  const std::string& write(const uint8_t* data, size_t size) {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) ||
        std::fclose(f) != 0) {
      std::perror(path_.c_str());
      std::abort();  // an environment problem, not a finding, but the run cannot go on
    }
    return path_;
  }

 private:
  std::string path_;
};

[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what.c_str());
  std::abort();
}

// LibTorch is not instrumented, so ASan would not see a view that reaches past its storage
// when LibTorch reads it: check the geometry here, then touch the first and last byte of the
// view's extent from instrumented code (the storage is heap memory ASan tracks, or a record
// buffer that LibTorch allocated).
inline void check_tensor(const at::Tensor& t) {
  if (t.numel() == 0) return;
  if (t.storage_offset() < 0) finding("negative storage offset");
  __int128 last = t.storage_offset();
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.stride(d) < 0) finding("negative stride");
    last += static_cast<__int128>(t.size(d) - 1) * t.stride(d);
  }
  const __int128 end_byte = (last + 1) * static_cast<__int128>(t.element_size());
  if (end_byte > static_cast<__int128>(t.storage().nbytes())) {
    finding("tensor view reads past its storage of " + std::to_string(t.storage().nbytes()) +
            " bytes");
  }
  const auto* base = static_cast<const volatile uint8_t*>(t.storage().data());
  uint8_t sink = base[t.storage_offset() * t.element_size()];
  sink ^= base[static_cast<size_t>(end_byte) - 1];
  (void)sink;
}

// Visits every value reachable from `root` (pickles can hold cycles through the memo) and
// checks each tensor; also exercises the typed accessors the checkpoint code uses.
inline void check_value(const checkpoint::Value* root) {
  using checkpoint::ValueKind;
  std::unordered_set<const checkpoint::Value*> seen;
  std::vector<const checkpoint::Value*> todo{root};
  while (!todo.empty()) {
    const checkpoint::Value* v = todo.back();
    todo.pop_back();
    if (v == nullptr) finding("null value in an unpickled document");
    if (!seen.insert(v).second) continue;
    switch (v->kind()) {
      case ValueKind::kTuple:
      case ValueKind::kList:
        for (const checkpoint::Value* item : v->items()) todo.push_back(item);
        break;
      case ValueKind::kDict:
        for (const auto& [key, value] : v->dict().entries) {
          todo.push_back(key);
          todo.push_back(value);
        }
        break;
      case ValueKind::kTensor:
        check_tensor(v->tensor());
        break;
      case ValueKind::kString:
      case ValueKind::kBytes:
      case ValueKind::kObject:
        (void)v->as_string().size();
        break;
      default:
        (void)v->kind_name();
    }
  }
}

}  // namespace ptinfer::fuzz
