#include "checkpoint/legacy_format.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "common/error.h"

namespace ptinfer::checkpoint {
namespace {

// pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2): PROTO 2, LONG1 of 10 bytes, STOP.
constexpr unsigned char kMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                    0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, '.'};
constexpr int64_t kProtocolVersion = 1001;

struct PendingStorage {
  at::Tensor tensor;
  bool filled = false;
};

class LegacyReader {
 public:
  LegacyReader(const std::string& path, const MappedFile& file)
      : path_(path), file_(file), data_(file.data()), size_(file.size()) {}

  Unpickled read() {
    pos_ = sizeof(kMagic);
    Unpickled protocol = next_pickle("protocol version", refuse_storages("protocol version"));
    if (!protocol.root->is(ValueKind::kInt) || protocol.root->as_int() != kProtocolVersion) {
      throw Error(ErrorKind::kUnsupported, path_ + ": legacy format protocol version is not " +
                                               std::to_string(kProtocolVersion));
    }
    Unpickled sys_info = next_pickle("sys_info", refuse_storages("sys_info"));
    if (!sys_info.root->is(ValueKind::kDict)) corrupt("sys_info is not a dict");
    const Value* little = sys_info.root->find("little_endian");
    if (little != nullptr && little->is(ValueKind::kBool) && !little->as_bool()) {
      throw Error(ErrorKind::kUnsupported, path_ + ": big-endian legacy checkpoint");
    }

    // Storages are allocated while the main pickle is read (their bytes come after it). All of
    // them together must fit in what is left of the file, so a lying size fails here.
    const uint64_t budget = size_ - pos_;
    uint64_t reserved = 0;
    StorageLoader loader = [&](const std::string& key, c10::ScalarType dtype, int64_t numel) {
      uint64_t nbytes;
      if (numel < 0 ||
          __builtin_mul_overflow(static_cast<uint64_t>(numel), c10::elementSize(dtype), &nbytes) ||
          nbytes > budget - reserved) {
        corrupt("storage '" + key + "' claims " + std::to_string(numel) +
                " elements, more than the file's remaining " + std::to_string(budget - reserved) +
                " bytes hold (truncated or corrupt)");
      }
      reserved += nbytes;
      PendingStorage& p = pending_[key];
      p.tensor = at::empty({numel}, at::TensorOptions().dtype(dtype));
      return p.tensor;
    };
    Unpickled main = next_pickle("pickle", loader);
    Unpickled keys = next_pickle("storage keys", refuse_storages("storage keys"));
    if (!keys.root->is(ValueKind::kList)) corrupt("storage keys are not a list");
    for (const Value* key_value : keys.root->items()) {
      if (!key_value->is(ValueKind::kString)) corrupt("a storage key is not a str");
      fill(key_value->as_string());
    }
    for (const auto& [key, p] : pending_) {
      if (!p.filled) corrupt("storage '" + key + "' is used but has no data");
    }
    return main;
  }

 private:
  [[noreturn]] void corrupt(const std::string& what) const {
    throw Error(ErrorKind::kCorruptData, path_ + ": legacy format: " + what);
  }

  StorageLoader refuse_storages(const std::string& part) {
    return [this, part](const std::string&, c10::ScalarType, int64_t) -> at::Tensor {
      corrupt(part + " refers to a storage");
    };
  }

  Unpickled next_pickle(const std::string& part, const StorageLoader& loader) {
    if (pos_ >= size_) corrupt("truncated: file ends before the " + part);
    Unpickled u =
        read_pickle(data_ + pos_, size_ - pos_, loader,
                    path_ + ": legacy format " + part + " at offset " + std::to_string(pos_));
    pos_ += u.end;
    return u;
  }

  // The storage record of `key`: int64 element count, then the bytes.
  void fill(const std::string& key) {
    auto it = pending_.find(key);
    if (it == pending_.end()) corrupt("storage key '" + key + "' is listed but never used");
    PendingStorage& p = it->second;
    if (p.filled) corrupt("storage key '" + key + "' is listed twice");
    if (size_ - pos_ < 8) corrupt("truncated: storage '" + key + "' has no size");
    int64_t numel;
    std::memcpy(&numel, data_ + pos_, 8);  // little-endian, as checked in sys_info
    pos_ += 8;
    if (numel != p.tensor.numel()) {
      corrupt("storage '" + key + "' holds " + std::to_string(numel) +
              " elements, the pickle says " + std::to_string(p.tensor.numel()));
    }
    const uint64_t nbytes = p.tensor.nbytes();
    if (size_ - pos_ < nbytes) {
      corrupt("truncated: storage '" + key + "' needs " + std::to_string(nbytes) + " bytes, " +
              std::to_string(size_ - pos_) + " left");
    }
    if (nbytes > 0) std::memcpy(p.tensor.data_ptr(), data_ + pos_, nbytes);
    file_.release(pos_, nbytes);
    pos_ += nbytes;
    p.filled = true;
  }

  const std::string& path_;
  const MappedFile& file_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  std::unordered_map<std::string, PendingStorage> pending_;
};

}  // namespace

bool is_legacy_format(const void* head, size_t size) {
  // A file cut inside the magic still counts (4 bytes already tell it from any other pickle),
  // so the reader reports it as truncated.
  return size >= 4 && std::memcmp(head, kMagic, std::min(size, sizeof(kMagic))) == 0;
}

Unpickled read_legacy_checkpoint(const std::string& path, const MappedFile& file) {
  const uint8_t* data = file.data();
  const size_t size = file.size();
  if (!is_legacy_format(data, size)) {
    throw Error(ErrorKind::kCorruptData, path + ": not a legacy torch.save file (bad magic)");
  }
  if (size < sizeof(kMagic)) {
    throw Error(ErrorKind::kCorruptData,
                path + ": legacy format: truncated inside the magic number");
  }
  return LegacyReader(path, file).read();
}

}  // namespace ptinfer::checkpoint
