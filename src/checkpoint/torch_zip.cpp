#include "checkpoint/torch_zip.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/versions.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "checkpoint/mapped_file.h"
#include "common/error.h"

namespace ptinfer::checkpoint {
namespace {

// What torch.save(..., _use_new_zipfile_serialization=False) starts with: PROTO 2, then
// LONG1 of the magic number 0x1950a86a20f9469cfc6c.
constexpr unsigned char kLegacyMagic[] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c,
                                          0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr unsigned char kZipMagic[] = {'P', 'K', 0x03, 0x04};

std::string c10_message(const c10::Error& e) { return e.what_without_backtrace(); }

// What LibTorch 1.13's PyTorchStreamReader checks once miniz has opened the archive: a throw
// from there leaks miniz's state (its destructor never runs; found by LeakSanitizer in the
// refusal tests), and its messages name a LibTorch source line. So these are checked first,
// here: some entry, the first one inside a folder (the archive's name), a version record in
// that folder that reads as a number LibTorch supports.
void check_archive_layout(const std::string& path, uint64_t file_size, const ZipDirectory& zip) {
  if (zip.entries.empty()) {
    throw Error(ErrorKind::kCorruptData, path + ": an empty zip archive, not a torch.save checkpoint");
  }
  const size_t slash = zip.first_name.find('/');
  if (slash == std::string::npos) {
    throw Error(ErrorKind::kCorruptData,
                path + ": zip entry '" + zip.first_name +
                    "' is not in a folder (torch.save puts every record in one: ARCHIVE/data.pkl)");
  }
  const std::string folder = zip.first_name.substr(0, slash + 1);
  auto version = zip.entries.find(folder + ".data/version");
  if (version == zip.entries.end()) version = zip.entries.find(folder + "version");
  if (version == zip.entries.end()) {
    throw Error(ErrorKind::kCorruptData, path + ": missing record '" + folder + "version'");
  }
  // "3\n" in practice; a version number has at most 20 digits.
  const std::string text =
      read_stored_entry(path, file_size, version->first, version->second, 64);
  uint64_t number = 0;
  try {
    number = std::stoull(text);  // what LibTorch parses it with (caffe2::stoull)
  } catch (const std::exception&) {
    throw Error(ErrorKind::kCorruptData,
                path + ": record '" + version->first + "' is not a version number");
  }
  if (number < caffe2::serialize::kMinSupportedFileFormatVersion ||
      number > caffe2::serialize::kMaxSupportedFileFormatVersion) {
    throw Error(ErrorKind::kUnsupported,
                path + ": format version " + std::to_string(number) + " (record '" +
                    version->first + "'); this LibTorch reads versions " +
                    std::to_string(caffe2::serialize::kMinSupportedFileFormatVersion) + " to " +
                    std::to_string(caffe2::serialize::kMaxSupportedFileFormatVersion));
  }
}

}  // namespace

TorchZip::TorchZip(const std::string& path) : path_(path) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    throw Error(ErrorKind::kNotFound, path + ": no such file");
  }
  if (!std::filesystem::is_regular_file(status)) {
    throw Error(ErrorKind::kNotFound, path + ": not a regular file");
  }
  file_size_ = std::filesystem::file_size(path, ec);
  if (ec) throw Error(ErrorKind::kNotFound, path + ": cannot read: " + ec.message());

  unsigned char head[sizeof(kLegacyMagic)] = {};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::kNotFound, path + ": cannot open");
    in.read(reinterpret_cast<char*>(head), sizeof(head));
  }
  if (file_size_ == 0) throw Error(ErrorKind::kCorruptData, path + ": empty file");
  if (file_size_ >= sizeof(kLegacyMagic) &&
      std::memcmp(head, kLegacyMagic, sizeof(kLegacyMagic)) == 0) {
    throw Error(ErrorKind::kUnsupported,
                path +
                    ": legacy (pre-1.6) format, re-save with torch.save in PyTorch >= 1.6 "
                    "(without _use_new_zipfile_serialization=False)");
  }
  if (file_size_ < sizeof(kZipMagic) || std::memcmp(head, kZipMagic, sizeof(kZipMagic)) != 0) {
    if (head[0] == 0x80) {
      throw Error(ErrorKind::kUnsupported, path + ": a bare pickle, not a torch.save zip archive");
    }
    throw Error(ErrorKind::kCorruptData, path + ": not a torch.save checkpoint (not a zip file)");
  }
  const ZipDirectory zip = read_zip_directory(path, file_size_);
  for (auto& [name, entry] : zip.entries) {
    size_t slash = name.find('/');
    directory_[slash == std::string::npos ? name : name.substr(slash + 1)] = entry;
  }
  // LibTorch's reader reads the version record as it opens the archive, allocating whatever size
  // the directory declares for it (a 4 GiB claim in a 200-byte file was found by fuzz/zip_fuzz):
  // check_archive_layout reads it first, at most 64 bytes. The other records are checked as they
  // are read: TorchScript archives hold deflated debug records that nothing here reads.
  check_archive_layout(path, file_size_, zip);
  try {
    reader_ = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::kCorruptData,
                path + ": not a readable torch.save zip archive (truncated?): " + c10_message(e));
  }
  // PyTorch 2.x records the byte order; older files are always little-endian.
  if (reader_->hasRecord("byteorder")) {
    std::string order = read_record("byteorder");
    if (order != "little") {
      throw Error(ErrorKind::kUnsupported, path + ": byte order '" + order + "' is not supported");
    }
  }
  try {
    map_ = std::make_shared<const MappedFile>(path, MappedFile::Access::kCopyOnWrite);
  } catch (const Error&) {
    // A file system without mmap: every storage is read through getRecord instead (same
    // tensors, one copy more).
  }
}

TorchZip::~TorchZip() = default;

bool TorchZip::is_torchscript() const {
  if (directory_.count("constants.pkl") != 0) return true;
  for (const auto& entry : directory_) {
    if (entry.first.rfind("code/", 0) == 0) return true;
  }
  return false;
}

void TorchZip::check_record(const std::string& name) const {
  auto it = directory_.find(name);
  if (it == directory_.end()) {
    throw Error(ErrorKind::kCorruptData, path_ + ": missing record '" + name + "'");
  }
  const ZipEntry& e = it->second;
  if (e.method != 0) {
    throw Error(ErrorKind::kCorruptData,
                path_ + ": record '" + name + "' is compressed (zip method " +
                    std::to_string(e.method) + "); torch.save stores records uncompressed");
  }
  if (e.uncompressed_size > file_size_ || e.compressed_size != e.uncompressed_size) {
    throw Error(ErrorKind::kCorruptData, path_ + ": record '" + name + "' declares " +
                                             std::to_string(e.uncompressed_size) + " bytes in a " +
                                             std::to_string(file_size_) + "-byte file");
  }
}

std::string TorchZip::read_record(const std::string& name) {
  try {
    if (!reader_->hasRecord(name)) {
      throw Error(ErrorKind::kCorruptData, path_ + ": missing record '" + name + "'");
    }
    check_record(name);
    auto [data, size] = reader_->getRecord(name);
    return std::string(static_cast<const char*>(data.get()), size);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::kCorruptData,
                path_ + ": cannot read record '" + name + "': " + c10_message(e));
  }
}

at::Tensor TorchZip::read_storage(const std::string& key, c10::ScalarType dtype, int64_t numel) {
  const std::string name = "data/" + key;
  const uint64_t item = c10::elementSize(dtype);
  // torch.save stores records uncompressed, so no storage is larger than the file: this bounds
  // what a corrupt numel can make us allocate.
  if (numel < 0 || static_cast<uint64_t>(numel) > file_size_ / item) {
    throw Error(ErrorKind::kCorruptData, path_ + ": storage '" + name + "' claims " +
                                             std::to_string(numel) + " elements, more than the " +
                                             std::to_string(file_size_) + "-byte file holds");
  }
  const uint64_t nbytes = static_cast<uint64_t>(numel) * item;
  auto options = at::TensorOptions().dtype(dtype);
  uint64_t offset = 0;
  try {
    if (!reader_->hasRecord(name)) {
      throw Error(ErrorKind::kCorruptData, path_ + ": missing storage record '" + name + "'");
    }
    check_record(name);
    offset = reader_->getRecordOffset(name);  // past the record's local header
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::kCorruptData,
                path_ + ": cannot read storage record '" + name + "': " + c10_message(e));
  }
  const uint64_t size = directory_.at(name).uncompressed_size;
  if (size < nbytes) {
    throw Error(ErrorKind::kCorruptData,
                path_ + ": storage record '" + name + "' has " + std::to_string(size) +
                    " bytes, needs " + std::to_string(nbytes) + " for " + std::to_string(numel) +
                    " elements of " + c10::toString(dtype));
  }
  // The map was taken after the size checks above; compare against what it covers, in case the
  // file changed since.
  const uint64_t covered = map_ ? map_->size() : file_size_;
  if (offset > covered || nbytes > covered - offset) {
    throw Error(ErrorKind::kCorruptData,
                path_ + ": storage record '" + name + "' runs past the end of the file (" +
                    std::to_string(nbytes) + " bytes at offset " + std::to_string(offset) + ")");
  }
  if (numel == 0) return at::empty({0}, options);
  if (map_ && offset % item == 0) {
    // The tensor keeps the map alive; its pages come from the page cache, with no copy.
    std::shared_ptr<const MappedFile> map = map_;
    void* bytes = const_cast<uint8_t*>(map->data() + offset);
    return at::from_blob(
        bytes, {numel}, [map](void*) mutable { map.reset(); }, options);
  }
  // No map, or misaligned for its element type (not written by torch.save): LibTorch reads the
  // record into an aligned buffer, which the tensor takes over.
  at::DataPtr data;
  try {
    std::tie(data, std::ignore) = reader_->getRecord(name);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::kCorruptData,
                path_ + ": cannot read storage record '" + name + "': " + c10_message(e));
  }
  auto holder = std::make_shared<at::DataPtr>(std::move(data));
  void* bytes = holder->get();
  return at::from_blob(
      bytes, {numel}, [holder](void*) mutable { holder.reset(); }, options);
}

}  // namespace ptinfer::checkpoint
