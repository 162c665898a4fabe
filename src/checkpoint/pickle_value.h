// The values our pickle interpreter produces (see pickle_reader.h).
//
// Values live in a ValueArena that owns them all; containers refer to their elements by
// pointer. A pickle can make a list that contains itself (through the memo) or nest lists a
// million deep, so ownership is flat: destroying the arena never recurses and cycles leak
// nothing. Keep the arena (the Unpickled object) alive as long as any Value* is used; tensors
// are reference-counted and may outlive it.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace ptinfer::checkpoint {

enum class ValueKind {
  kNone,
  kBool,
  kInt,     // Python int that fits in int64
  kFloat,   // Python float
  kString,  // Python str (UTF-8)
  kBytes,   // Python bytes
  kTuple,
  kList,    // also what set/frozenset become
  kDict,    // dict and collections.OrderedDict, in insertion order
  kGlobal,  // an allow-listed global not yet applied (e.g. torch.FloatStorage)
  kTensor,  // a tensor rebuilt by torch._utils._rebuild_tensor_v2 / _rebuild_parameter
  kObject,  // an allow-listed object awaiting BUILD, or a numpy dtype: "argparse.Namespace",
            // "numpy.ndarray", "numpy.dtype:<code>" (read with as_string())
};

// Lower-case name of a kind ("dict", "tensor", ...), for error messages.
const char* value_kind_name(ValueKind kind);

class Value;

// Ordered dict with lookup by key. Keys are hashable scalars or tuples of them.
struct ValueDict {
  std::vector<std::pair<const Value*, const Value*>> entries;  // insertion order
  std::unordered_map<std::string, size_t> index;               // key_repr(key) -> entries[i]
};

class Value {
 public:
  using Payload = std::variant<std::monostate, bool, int64_t, double, std::string,
                               std::vector<const Value*>, ValueDict, at::Tensor>;

  Value(ValueKind kind, Payload payload) : kind_(kind), payload_(std::move(payload)) {}

  ValueKind kind() const { return kind_; }
  bool is(ValueKind kind) const { return kind_ == kind; }
  const char* kind_name() const { return value_kind_name(kind_); }

  // Typed accessors. Each throws Error(kCorruptData, "expected <kind>, found <kind>") when the
  // value is of another kind; callers check kind() first where a mismatch is not corruption.
  bool as_bool() const;
  int64_t as_int() const;
  double as_double() const;                // kFloat, or kInt converted
  const std::string& as_string() const;    // kString, kBytes or kObject (its class)
  const std::string& global_name() const;  // kGlobal: "module.name", e.g. "torch.FloatStorage"
  const std::vector<const Value*>& items() const;  // kTuple or kList
  const ValueDict& dict() const;                   // kDict
  const at::Tensor& tensor() const;                // kTensor

  // kDict only: the value stored under the string key `key`, or nullptr.
  const Value* find(std::string_view key) const;

  // Mutators used while unpickling (lists and dicts are mutable in pickle).
  std::vector<const Value*>& mutable_items();
  // Turns this value into another in place (BUILD completes an object that the memo may
  // already refer to, e.g. argparse.Namespace -> dict, numpy.ndarray -> tensor).
  void reset(ValueKind kind, Payload payload) {
    kind_ = kind;
    payload_ = std::move(payload);
  }
  // Inserts or replaces (Python dict semantics). Throws Error(kCorruptData) when `key` is not
  // hashable (a list, dict or tensor).
  void set_item(const Value* key, const Value* value);

 private:
  [[noreturn]] void throw_kind(const char* expected) const;

  ValueKind kind_;
  Payload payload_;
};

// A string that identifies a hashable key value: equal Python keys give equal strings
// ("s:" + text for str, "i:" + digits for int, ...). Throws Error(kCorruptData) for unhashable
// values or tuples nested more than 64 deep.
std::string key_repr(const Value& key);

// Owns every Value of one unpickled document; addresses are stable.
class ValueArena {
 public:
  Value* make(ValueKind kind, Value::Payload payload = std::monostate{}) {
    return &values_.emplace_back(kind, std::move(payload));
  }
  size_t size() const { return values_.size(); }

 private:
  std::deque<Value> values_;
};

}  // namespace ptinfer::checkpoint
