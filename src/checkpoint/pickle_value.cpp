#include "checkpoint/pickle_value.h"

#include <cstdio>

#include "common/error.h"

namespace ptinfer::checkpoint {

const char* value_kind_name(ValueKind kind) {
  switch (kind) {
    case ValueKind::kNone:
      return "None";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt:
      return "int";
    case ValueKind::kFloat:
      return "float";
    case ValueKind::kString:
      return "str";
    case ValueKind::kBytes:
      return "bytes";
    case ValueKind::kTuple:
      return "tuple";
    case ValueKind::kList:
      return "list";
    case ValueKind::kDict:
      return "dict";
    case ValueKind::kGlobal:
      return "global";
    case ValueKind::kTensor:
      return "tensor";
    case ValueKind::kObject:
      return "object";
  }
  return "unknown";
}

void Value::throw_kind(const char* expected) const {
  throw Error(ErrorKind::kCorruptData,
              std::string("expected ") + expected + ", found " + kind_name());
}

bool Value::as_bool() const {
  if (kind_ != ValueKind::kBool) throw_kind("bool");
  return std::get<bool>(payload_);
}

int64_t Value::as_int() const {
  if (kind_ != ValueKind::kInt) throw_kind("int");
  return std::get<int64_t>(payload_);
}

double Value::as_double() const {
  if (kind_ == ValueKind::kInt) return static_cast<double>(std::get<int64_t>(payload_));
  if (kind_ != ValueKind::kFloat) throw_kind("float");
  return std::get<double>(payload_);
}

const std::string& Value::as_string() const {
  if (kind_ != ValueKind::kString && kind_ != ValueKind::kBytes && kind_ != ValueKind::kObject) {
    throw_kind("str");
  }
  return std::get<std::string>(payload_);
}

const std::string& Value::global_name() const {
  if (kind_ != ValueKind::kGlobal) throw_kind("global");
  return std::get<std::string>(payload_);
}

const std::vector<const Value*>& Value::items() const {
  if (kind_ != ValueKind::kTuple && kind_ != ValueKind::kList) throw_kind("tuple or list");
  return std::get<std::vector<const Value*>>(payload_);
}

std::vector<const Value*>& Value::mutable_items() {
  if (kind_ != ValueKind::kTuple && kind_ != ValueKind::kList) throw_kind("list");
  return std::get<std::vector<const Value*>>(payload_);
}

const ValueDict& Value::dict() const {
  if (kind_ != ValueKind::kDict) throw_kind("dict");
  return std::get<ValueDict>(payload_);
}

const at::Tensor& Value::tensor() const {
  if (kind_ != ValueKind::kTensor) throw_kind("tensor");
  return std::get<at::Tensor>(payload_);
}

const Value* Value::find(std::string_view key) const {
  const ValueDict& d = dict();
  auto it = d.index.find("s:" + std::string(key));
  return it == d.index.end() ? nullptr : d.entries[it->second].second;
}

void Value::set_item(const Value* key, const Value* value) {
  if (kind_ != ValueKind::kDict) throw_kind("dict");
  ValueDict& d = std::get<ValueDict>(payload_);
  std::string repr = key_repr(*key);
  auto [it, inserted] = d.index.emplace(std::move(repr), d.entries.size());
  if (inserted) {
    d.entries.emplace_back(key, value);
  } else {
    d.entries[it->second].second = value;  // Python keeps the first key and position
  }
}

namespace {

// Recursion is bounded by `depth`: tuples cannot contain themselves, but they can nest deeply.
void append_key_repr(const Value& key, int depth, std::string& out) {
  if (depth > 64) throw Error(ErrorKind::kCorruptData, "dict key nested more than 64 deep");
  switch (key.kind()) {
    case ValueKind::kNone:
      out += "n:";
      return;
    // Python: True == 1 and hash(True) == hash(1), so bools and ints share keys.
    case ValueKind::kBool:
      out += key.as_bool() ? "i:1" : "i:0";
      return;
    case ValueKind::kInt:
      out += "i:" + std::to_string(key.as_int());
      return;
    case ValueKind::kFloat: {
      double v = key.as_double();
      // Range first: casting a double outside int64 is undefined (found by fuzz/pickle_fuzz).
      if (v > -9.2e18 && v < 9.2e18 && v == static_cast<double>(static_cast<int64_t>(v))) {
        out += "i:" + std::to_string(static_cast<int64_t>(v));  // 1.0 == 1 in Python
      } else {
        char buf[40];
        std::snprintf(buf, sizeof(buf), "f:%.17g", v);
        out += buf;
      }
      return;
    }
    case ValueKind::kString:
      out += "s:" + key.as_string();
      return;
    case ValueKind::kBytes:
      out += "b:" + key.as_string();
      return;
    case ValueKind::kGlobal:
      out += "g:" + key.global_name();
      return;
    case ValueKind::kTuple: {
      // Length-prefixed parts keep ("a,b",) and ("a", "b") apart.
      out += "t" + std::to_string(key.items().size()) + "(";
      for (const Value* item : key.items()) {
        std::string part;
        append_key_repr(*item, depth + 1, part);
        out += std::to_string(part.size()) + ":" + part;
      }
      out += ")";
      return;
    }
    default:
      throw Error(ErrorKind::kCorruptData,
                  std::string("unhashable dict key of type ") + key.kind_name());
  }
}

}  // namespace

std::string key_repr(const Value& key) {
  std::string out;
  append_key_repr(key, 0, out);
  return out;
}

}  // namespace ptinfer::checkpoint
