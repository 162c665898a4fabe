#include "checkpoint/safetensors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "checkpoint/mapped_file.h"
#include "common/error.h"

namespace ptinfer::checkpoint {
namespace {

// safetensors' own limit on the header, which also bounds what parsing it can allocate.
constexpr uint64_t kMaxHeader = 100'000'000;

struct DtypeCode {
  const char* code;
  c10::ScalarType dtype;
};
constexpr DtypeCode kDtypes[] = {
    {"F64", c10::kDouble}, {"F32", c10::kFloat}, {"F16", c10::kHalf},  {"BF16", c10::kBFloat16},
    {"I64", c10::kLong},   {"I32", c10::kInt},   {"I16", c10::kShort}, {"I8", c10::kChar},
    {"U8", c10::kByte},    {"BOOL", c10::kBool},
};

uint64_t read_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

bool is_safetensors(const void* head, size_t size, uint64_t file_size) {
  if (size < 9 || file_size < 9) return false;
  const auto* p = static_cast<const uint8_t*>(head);
  const uint64_t n = read_u64(p);
  // A header longer than the file still counts, so a truncated file is reported as such.
  return n >= 2 && n < (uint64_t{1} << 40) && p[8] == '{';
}

StateDict read_safetensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  MappedFile file(path);
  auto corrupt = [&path](const std::string& what) -> Error {
    return Error(ErrorKind::kCorruptData, path + ": safetensors: " + what);
  };
  if (file.size() < 8) throw corrupt("truncated: no header length");
  const uint64_t n = read_u64(file.data());
  if (n > file.size() - 8 || n > kMaxHeader) {
    throw corrupt("header of " + std::to_string(n) + " bytes does not fit the " +
                  std::to_string(file.size()) + "-byte file (truncated?)");
  }
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file.data() + 8, file.data() + 8 + n);
  } catch (const nlohmann::json::exception& e) {
    throw corrupt(std::string("header is not JSON: ") + e.what());
  }
  if (!header.is_object()) throw corrupt("header is not a JSON object");
  const uint64_t data_start = 8 + n, data_size = file.size() - data_start;
  struct Entry {
    std::string name;
    c10::ScalarType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") {
      if (!info.is_object()) throw corrupt("__metadata__ is not an object");
      for (const auto& [k, v] : info.items()) {
        if (!v.is_string()) throw corrupt("__metadata__ value '" + k + "' is not a string");
        if (metadata != nullptr) (*metadata)[k] = v.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!info.is_object() || !info.contains("dtype") || !info["dtype"].is_string() ||
        !info.contains("shape") || !info["shape"].is_array() || !info.contains("data_offsets") ||
        !info["data_offsets"].is_array() || info["data_offsets"].size() != 2) {
      throw corrupt(where + " lacks dtype, shape or data_offsets [begin, end]");
    }
    Entry e{name, c10::kFloat, {}, 0, 0};
    const std::string code = info["dtype"].get<std::string>();
    auto d = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                          [&code](const DtypeCode& c) { return code == c.code; });
    if (d == std::end(kDtypes)) throw corrupt(where + " has unsupported dtype '" + code + "'");
    e.dtype = d->dtype;
    uint64_t numel = 1;
    for (const auto& dim : info["shape"]) {
      if (!dim.is_number_unsigned())
        throw corrupt(where + " has a shape entry that is not an int >= 0");
      const uint64_t v = dim.get<uint64_t>();
      if (v > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(numel, v, &numel)) {
        throw corrupt(where + " has a shape that overflows");
      }
      e.shape.push_back(static_cast<int64_t>(v));
    }
    for (const auto& off : info["data_offsets"]) {
      if (!off.is_number_unsigned())
        throw corrupt(where + " has a data offset that is not an int >= 0");
    }
    e.begin = info["data_offsets"][0].get<uint64_t>();
    e.end = info["data_offsets"][1].get<uint64_t>();
    uint64_t nbytes;
    if (e.begin > e.end || e.end > data_size) {
      throw corrupt(where + " data [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                    ") lies outside the " + std::to_string(data_size) + " data bytes (truncated?)");
    }
    if (__builtin_mul_overflow(numel, c10::elementSize(e.dtype), &nbytes) ||
        nbytes != e.end - e.begin) {
      throw corrupt(where + " shape needs " + std::to_string(numel) + " elements of " + code +
                    " but its data has " + std::to_string(e.end - e.begin) + " bytes");
    }
    entries.push_back(std::move(e));
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].begin < entries[i - 1].end) {
      throw corrupt("tensors '" + entries[i - 1].name + "' and '" + entries[i].name + "' overlap");
    }
  }
  // Every tensor's bytes were checked against the file above, so allocation is bounded by it.
  StateDict sd;
  for (const Entry& e : entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
    const uint64_t nbytes = e.end - e.begin;
    if (nbytes > 0) std::memcpy(t.data_ptr(), file.data() + data_start + e.begin, nbytes);
    file.release(data_start + e.begin, nbytes);
    sd.emplace_back(e.name, std::move(t));
  }
  return sd;
}

void write_safetensors(const StateDict& sd, const std::map<std::string, std::string>& metadata,
                       const std::string& path) {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : sd) {
    if (!names.insert(name).second || name == "__metadata__") {
      throw Error(ErrorKind::kInvalidArgument, path + ": duplicate tensor name '" + name + "'");
    }
    const c10::ScalarType dtype = tensor.scalar_type();  // (C++17 lambdas cannot capture
                                                         // structured bindings; clang refuses)
    auto d = std::find_if(std::begin(kDtypes), std::end(kDtypes),
                          [dtype](const DtypeCode& c) { return c.dtype == dtype; });
    if (d == std::end(kDtypes)) {
      throw Error(ErrorKind::kInvalidArgument, path + ": tensor '" + name + "' has dtype " +
                                                   c10::toString(tensor.scalar_type()) +
                                                   ", which safetensors cannot store");
    }
    at::Tensor t = tensor.cpu().contiguous();
    const uint64_t nbytes = t.numel() * t.element_size();
    header[name] = {{"dtype", d->code},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    contiguous.push_back(std::move(t));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error(ErrorKind::kNotFound, path + ": cannot write");
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((text.size() >> (8 * i)) & 0xff);
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const at::Tensor& t : contiguous) {
    out.write(static_cast<const char*>(t.data_ptr()),
              static_cast<std::streamsize>(t.numel() * t.element_size()));
  }
  out.close();
  if (!out) throw Error(ErrorKind::kNotFound, path + ": write failed");
}

}  // namespace ptinfer::checkpoint
