#include "checkpoint/pickle_reader.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "common/error.h"

namespace ptinfer::checkpoint {
namespace {

// Opcode bytes (CPython's Lib/pickle.py names).
enum Op : uint8_t {
  kMark = '(',
  kStop = '.',
  kPop = '0',
  kPopMark = '1',
  kBinFloat = 'G',
  kBinInt = 'J',
  kBinInt1 = 'K',
  kBinInt2 = 'M',
  kNone = 'N',
  kBinPersId = 'Q',
  kReduce = 'R',
  kBinUnicode = 'X',
  kBinBytes = 'B',
  kShortBinBytes = 'C',
  kEmptyList = ']',
  kAppend = 'a',
  kBuild = 'b',
  kGlobal = 'c',
  kDict = 'd',
  kEmptyDict = '}',
  kAppends = 'e',
  kBinGet = 'h',
  kLongBinGet = 'j',
  kList = 'l',
  kBinPut = 'q',
  kLongBinPut = 'r',
  kSetItem = 's',
  kTuple = 't',
  kEmptyTuple = ')',
  kSetItems = 'u',
  kProto = 0x80,
  kNewObj = 0x81,
  kTuple1 = 0x85,
  kTuple2 = 0x86,
  kTuple3 = 0x87,
  kNewTrue = 0x88,
  kNewFalse = 0x89,
  kLong1 = 0x8a,
  kLong4 = 0x8b,
  kShortBinUnicode = 0x8c,
  kBinUnicode8 = 0x8d,
  kBinBytes8 = 0x8e,
  kStackGlobal = 0x93,
  kMemoize = 0x94,
  kFrame = 0x95,
};

struct StorageType {
  const char* name;
  c10::ScalarType dtype;
};

constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", c10::kFloat},
    {"DoubleStorage", c10::kDouble},
    {"HalfStorage", c10::kHalf},
    {"BFloat16Storage", c10::kBFloat16},
    {"LongStorage", c10::kLong},
    {"IntStorage", c10::kInt},
    {"ShortStorage", c10::kShort},
    {"CharStorage", c10::kChar},
    {"ByteStorage", c10::kByte},
    {"BoolStorage", c10::kBool},
    {"ComplexFloatStorage", c10::kComplexFloat},
    {"ComplexDoubleStorage", c10::kComplexDouble},
};

// Callables and classes a checkpoint may name; see the header for what each becomes.
const std::unordered_set<std::string>& allowed_globals() {
  static const std::unordered_set<std::string> names = [] {
    std::unordered_set<std::string> n = {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "torch.Size",
        "torch.device",
        "builtins.set",
        "builtins.frozenset",
        // Protocol 2 has no bytes opcode: Python 3 writes b'..' as
        // _codecs.encode('..', 'latin1') and b'' as bytes().
        "_codecs.encode",
        "builtins.bytes",
        // Training scripts store their arguments and numpy values next to the weights.
        "argparse.Namespace",
        "numpy.dtype",
        "numpy.ndarray",
        "numpy.core.multiarray.scalar",
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray.scalar",
        "numpy._core.multiarray._reconstruct",
    };
    for (const StorageType& s : kStorageTypes) n.insert(std::string("torch.") + s.name);
    return n;
  }();
  return names;
}

// TorchScript's data.pkl (torch.jit.save): objects of compiled classes ("__torch__.<class>"),
// typed lists and type tags, read as data (TorchScript mode only).
constexpr const char* kScriptClassPrefix = "__torch__.";
constexpr const char* kScriptListPrefix = "torch.jit._pickle.build_";
constexpr const char* kScriptRestoreTypeTag = "torch.jit._pickle.restore_type_tag";

bool is_script_global(const std::string& full) {
  static const std::unordered_set<std::string> lists = {
      "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_tensorlist",
      "torch.jit._pickle.build_doublelist", "torch.jit._pickle.build_boollist"};
  return full.rfind(kScriptClassPrefix, 0) == 0 || lists.count(full) != 0 ||
         full == kScriptRestoreTypeTag;
}

class Unpickler {
 public:
  Unpickler(const uint8_t* data, size_t size, const StorageLoader& loader,
            const std::string& context, const PickleOptions& options)
      : data_(data), size_(size), loader_(loader), context_(context), options_(options) {}

  Unpickled run() {
    Unpickled result;
    result.arena = std::make_unique<ValueArena>();
    arena_ = result.arena.get();
    script_classes_ = &result.script_classes;
    while (true) {
      op_offset_ = pos_;
      if (pos_ >= size_) fail("truncated: pickle ends without STOP");
      op_ = data_[pos_++];
      if (op_ == kStop) {
        result.root = pop();
        result.end = pos_;
        return result;
      }
      step();
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what, ErrorKind kind = ErrorKind::kCorruptData) {
    char where[64];
    std::snprintf(where, sizeof(where), " (opcode 0x%02x at offset %zu)", op_, op_offset_);
    throw Error(kind, context_ + ": " + what + where);
  }

  // --- input ------------------------------------------------------------------------------
  const uint8_t* read(uint64_t n) {
    if (n > size_ - pos_) {
      fail("truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(size_ - pos_) +
           " left");
    }
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }
  uint64_t read_le(int n) {
    const uint8_t* p = read(n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
  }
  std::string read_string(uint64_t n) {
    const uint8_t* p = read(n);  // checks n against the input before allocating
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  std::string read_line() {
    const void* nl = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (nl == nullptr) fail("truncated: no newline after GLOBAL name");
    size_t n = static_cast<const uint8_t*>(nl) - (data_ + pos_);
    std::string s = read_string(n);
    ++pos_;
    return s;
  }
  // Two's complement little-endian integer of n bytes (LONG1/LONG4).
  int64_t read_long(uint64_t n) {
    if (n > 8) {
      read(n);  // report truncation first when that is the real problem
      fail("integer of " + std::to_string(n) + " bytes does not fit in 64 bits");
    }
    if (n == 0) return 0;
    uint64_t v = read_le(static_cast<int>(n));
    if (n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }

  // --- stack ------------------------------------------------------------------------------
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(Value* v) { stack_.push_back(v); }
  Value* top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  Value* pop() {
    Value* v = top();
    stack_.pop_back();
    return v;
  }
  // Removes and returns everything above the last MARK, and the mark.
  std::vector<const Value*> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<const Value*> items(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return items;
  }
  Value* make(ValueKind kind, Value::Payload payload = std::monostate{}) {
    return arena_->make(kind, std::move(payload));
  }
  Value* make_tuple(std::vector<const Value*> items) {
    return make(ValueKind::kTuple, std::move(items));
  }
  void memo_put(uint64_t index) { memo_[index] = top(); }
  void memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("memo entry " + std::to_string(index) + " was never stored");
    push(it->second);
  }
  Value* top_of_kind(ValueKind kind, const char* op) {
    Value* target = top();
    if (!target->is(kind)) {
      fail(std::string(op) + " on a " + target->kind_name() + ", expected a " +
           value_kind_name(kind));
    }
    return target;
  }
  void set_items(Value* dict, const std::vector<const Value*>& kv) {
    if (kv.size() % 2 != 0) fail("odd number of items for a dict");
    for (size_t i = 0; i < kv.size(); i += 2) set_item(dict, kv[i], kv[i + 1]);
  }
  void set_item(Value* dict, const Value* key, const Value* value) {
    try {
      dict->set_item(key, value);
    } catch (const Error& e) {
      fail(e.what());
    }
  }

  // --- opcodes ----------------------------------------------------------------------------
  void step() {
    switch (op_) {
      case kProto: {
        uint64_t proto = read_le(1);
        if (proto > 5) fail("unsupported pickle protocol " + std::to_string(proto));
        break;
      }
      case kFrame:
        read_le(8);
        break;  // frames only group opcodes; nothing to do
      case kMark:
        marks_.push_back(stack_.size());
        break;
      case kPop:
        pop();
        break;
      case kPopMark:
        pop_mark();
        break;
      case kEmptyDict:
        push(make(ValueKind::kDict, ValueDict{}));
        break;
      case kEmptyList:
        push(make(ValueKind::kList, std::vector<const Value*>{}));
        break;
      case kEmptyTuple:
        push(make_tuple({}));
        break;
      case kBinPut:
        memo_put(read_le(1));
        break;
      case kLongBinPut:
        memo_put(read_le(4));
        break;
      case kMemoize:
        memo_put(memo_.size());
        break;
      case kBinGet:
        memo_get(read_le(1));
        break;
      case kLongBinGet:
        memo_get(read_le(4));
        break;
      case kShortBinUnicode:
        push(make(ValueKind::kString, read_string(read_le(1))));
        break;
      case kBinUnicode:
        push(make(ValueKind::kString, read_string(read_le(4))));
        break;
      case kBinUnicode8:
        push(make(ValueKind::kString, read_string(read_le(8))));
        break;
      case kShortBinBytes:
        push(make(ValueKind::kBytes, read_string(read_le(1))));
        break;
      case kBinBytes:
        push(make(ValueKind::kBytes, read_string(read_le(4))));
        break;
      case kBinBytes8:
        push(make(ValueKind::kBytes, read_string(read_le(8))));
        break;
      case kBinInt:
        push(make(ValueKind::kInt, int64_t{static_cast<int32_t>(read_le(4))}));
        break;
      case kBinInt1:
        push(make(ValueKind::kInt, static_cast<int64_t>(read_le(1))));
        break;
      case kBinInt2:
        push(make(ValueKind::kInt, static_cast<int64_t>(read_le(2))));
        break;
      case kLong1:
        push(make(ValueKind::kInt, read_long(read_le(1))));
        break;
      case kLong4:
        push(make(ValueKind::kInt, read_long(read_le(4))));
        break;
      case kBinFloat: {
        const uint8_t* p = read(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
        double v;
        std::memcpy(&v, &bits, sizeof(v));
        push(make(ValueKind::kFloat, v));
        break;
      }
      case kNone:
        push(make(ValueKind::kNone));
        break;
      case kNewTrue:
        push(make(ValueKind::kBool, true));
        break;
      case kNewFalse:
        push(make(ValueKind::kBool, false));
        break;
      case kTuple:
        push(make_tuple(pop_mark()));
        break;
      case kTuple1:
      case kTuple2:
      case kTuple3: {
        size_t n = op_ - kTuple1 + 1;
        std::vector<const Value*> items(n);
        for (size_t i = n; i-- > 0;) items[i] = pop();
        push(make_tuple(std::move(items)));
        break;
      }
      case kList:
        push(make(ValueKind::kList, pop_mark()));
        break;
      case kDict: {
        std::vector<const Value*> kv = pop_mark();
        Value* dict = make(ValueKind::kDict, ValueDict{});
        set_items(dict, kv);
        push(dict);
        break;
      }
      case kAppend: {
        const Value* v = pop();
        top_of_kind(ValueKind::kList, "APPEND")->mutable_items().push_back(v);
        break;
      }
      case kAppends: {
        std::vector<const Value*> items = pop_mark();
        auto& list = top_of_kind(ValueKind::kList, "APPENDS")->mutable_items();
        list.insert(list.end(), items.begin(), items.end());
        break;
      }
      case kSetItem: {
        const Value* v = pop();
        const Value* k = pop();
        set_item(top_of_kind(ValueKind::kDict, "SETITEM"), k, v);
        break;
      }
      case kSetItems: {
        std::vector<const Value*> kv = pop_mark();
        set_items(top_of_kind(ValueKind::kDict, "SETITEMS"), kv);
        break;
      }
      case kGlobal: {
        std::string module = read_line();
        std::string name = read_line();
        push(resolve_global(module, name));
        break;
      }
      case kStackGlobal: {
        const Value* name = pop();
        const Value* module = pop();
        if (!name->is(ValueKind::kString) || !module->is(ValueKind::kString)) {
          fail("STACK_GLOBAL needs two strings");
        }
        push(resolve_global(module->as_string(), name->as_string()));
        break;
      }
      case kReduce:
      case kNewObj: {
        const Value* args = pop();
        const Value* callable = pop();
        push(apply(*callable, *args));
        break;
      }
      case kBuild: {
        const Value* state = pop();
        Value* target = top();
        // OrderedDict state dicts carry their __dict__ ({'_metadata': ...}) as BUILD state;
        // state dict versions are not needed to read the tensors.
        if (target->is(ValueKind::kDict)) break;
        if (!target->is(ValueKind::kObject)) {
          fail(std::string("BUILD on a ") + target->kind_name() + ", expected a dict or object");
        }
        build_object(*target, *state);
        break;
      }
      case kBinPersId:
        push(persistent_load(*pop()));
        break;
      default: {
        char buf[48];
        std::snprintf(buf, sizeof(buf), "unknown opcode 0x%02x", op_);
        fail(buf);
      }
    }
  }

  Value* resolve_global(std::string module, const std::string& name) {
    // Protocol 2 pickles written by Python 3 name Python 2's module for builtins.
    if (module == "__builtin__") module = "builtins";
    if (module == "codecs") module = "_codecs";
    std::string full = module + "." + name;
    if (options_.torchscript && is_script_global(full)) return make(ValueKind::kGlobal, full);
    if (allowed_globals().count(full) == 0) {
      fail("refusing global '" + full + "' (not in the allow-list of torch.save checkpoints)",
           ErrorKind::kUnsupported);
    }
    return make(ValueKind::kGlobal, full);
  }

  // REDUCE/NEWOBJ: the allow-listed callables, implemented here.
  Value* apply(const Value& callable, const Value& args_value) {
    if (!callable.is(ValueKind::kGlobal)) {
      fail(std::string("REDUCE on a ") + callable.kind_name() + ", expected a global");
    }
    if (!args_value.is(ValueKind::kTuple)) {
      fail(std::string("arguments of ") + callable.global_name() + " are a " +
           args_value.kind_name() + ", expected a tuple");
    }
    const std::string& f = callable.global_name();
    const std::vector<const Value*>& args = args_value.items();
    auto need = [&](size_t lo, size_t hi) {
      if (args.size() < lo || args.size() > hi) {
        fail(f + " takes " + std::to_string(lo) + (lo == hi ? "" : "-" + std::to_string(hi)) +
             " arguments, got " + std::to_string(args.size()));
      }
    };
    if (f == "collections.OrderedDict") {
      need(0, 1);
      Value* dict = make(ValueKind::kDict, ValueDict{});
      if (args.size() == 1) {
        if (!args[0]->is(ValueKind::kList) && !args[0]->is(ValueKind::kTuple)) {
          fail("OrderedDict argument is a " + std::string(args[0]->kind_name()));
        }
        for (const Value* pair : args[0]->items()) {
          if (!pair->is(ValueKind::kTuple) || pair->items().size() != 2) {
            fail("OrderedDict item is not a (key, value) pair");
          }
          set_item(dict, pair->items()[0], pair->items()[1]);
        }
      }
      return dict;
    }
    if (f == "torch._utils._rebuild_tensor") {
      need(4, 4);
      return rebuild_tensor(args);
    }
    if (f == "argparse.Namespace") {
      need(0, 0);  // pickled as NEWOBJ with no arguments, then BUILD with its __dict__
      return make(ValueKind::kObject, f);
    }
    if (f.rfind(kScriptClassPrefix, 0) == 0) {
      need(0, 0);  // a TorchScript object: NEWOBJ with no arguments, then BUILD with its state
      return make(ValueKind::kObject, f);
    }
    if (f.rfind(kScriptListPrefix, 0) == 0) {
      need(1, 1);  // torch.jit._pickle.build_intlist(list) etc.: the typed list itself
      if (!args[0]->is(ValueKind::kList)) fail(f + " argument is not a list");
      return const_cast<Value*>(args[0]);
    }
    if (f == kScriptRestoreTypeTag) {
      need(2, 2);  // (container, type string): the container, its static type dropped
      return const_cast<Value*>(args[0]);
    }
    if (f == "numpy.dtype") {
      need(1, 3);
      if (!args[0]->is(ValueKind::kString)) fail("numpy.dtype: type code is not a str");
      return make(ValueKind::kObject, "numpy.dtype:" + args[0]->as_string());
    }
    if (f == "numpy.core.multiarray.scalar" || f == "numpy._core.multiarray.scalar") {
      need(2, 2);
      return numpy_scalar(*args[0], *args[1]);
    }
    if (f == "numpy.core.multiarray._reconstruct" || f == "numpy._core.multiarray._reconstruct") {
      need(3, 3);
      if (!args[0]->is(ValueKind::kGlobal) || args[0]->global_name() != "numpy.ndarray") {
        fail(f + " may only make a numpy.ndarray");
      }
      return make(ValueKind::kObject, std::string("numpy.ndarray"));
    }
    if (f == "torch._utils._rebuild_tensor_v2") {
      need(6, 7);  // PyTorch >= 1.13 may add a metadata dict
      return rebuild_tensor(args);
    }
    if (f == "torch._utils._rebuild_parameter" ||
        f == "torch._utils._rebuild_parameter_with_state") {
      need(f == "torch._utils._rebuild_parameter" ? 3 : 4,
           f == "torch._utils._rebuild_parameter" ? 3 : 4);
      if (!args[0]->is(ValueKind::kTensor)) fail(f + ": first argument is not a tensor");
      return const_cast<Value*>(args[0]);
    }
    if (f == "torch.Size") {
      need(1, 1);
      if (!args[0]->is(ValueKind::kTuple) && !args[0]->is(ValueKind::kList)) {
        fail("torch.Size argument is a " + std::string(args[0]->kind_name()));
      }
      return make_tuple(args[0]->items());
    }
    if (f == "torch.device") {
      need(1, 2);
      if (!args[0]->is(ValueKind::kString)) fail("torch.device type is not a str");
      std::string device = args[0]->as_string();
      if (args.size() == 2 && args[1]->is(ValueKind::kInt)) {
        device += ":" + std::to_string(args[1]->as_int());
      }
      return make(ValueKind::kString, device);
    }
    if (f == "builtins.set" || f == "builtins.frozenset") {
      need(0, 1);
      std::vector<const Value*> items;
      if (args.size() == 1) {
        if (!args[0]->is(ValueKind::kList) && !args[0]->is(ValueKind::kTuple)) {
          fail(f + " argument is a " + args[0]->kind_name());
        }
        items = args[0]->items();
      }
      return make(ValueKind::kList, std::move(items));
    }
    if (f == "_codecs.encode") {
      need(2, 2);
      if (!args[0]->is(ValueKind::kString) || !args[1]->is(ValueKind::kString) ||
          (args[1]->as_string() != "latin1" && args[1]->as_string() != "latin-1")) {
        fail("_codecs.encode is allowed only as (str, 'latin1'), the encoding of bytes");
      }
      return make(ValueKind::kBytes, latin1_bytes(args[0]->as_string()));
    }
    if (f == "builtins.bytes") {
      need(0, 0);
      return make(ValueKind::kBytes, std::string());
    }
    fail("calling " + f + " is not supported", ErrorKind::kUnsupported);
  }

  // The torch dtype of a numpy type code ("f4" -> kFloat). Byte order was checked at BUILD.
  c10::ScalarType numpy_dtype(const Value& dtype) {
    static const std::unordered_map<std::string, c10::ScalarType> kCodes = {
        {"f2", c10::kHalf},         {"f4", c10::kFloat},         {"f8", c10::kDouble},
        {"i1", c10::kChar},         {"i2", c10::kShort},         {"i4", c10::kInt},
        {"i8", c10::kLong},         {"u1", c10::kByte},          {"b1", c10::kBool},
        {"c8", c10::kComplexFloat}, {"c16", c10::kComplexDouble}};
    constexpr char kPrefix[] = "numpy.dtype:";
    if (!dtype.is(ValueKind::kObject) || dtype.as_string().rfind(kPrefix, 0) != 0) {
      fail(std::string("numpy value's dtype is a ") + dtype.kind_name());
    }
    const std::string code = dtype.as_string().substr(sizeof(kPrefix) - 1);
    auto it = kCodes.find(code);
    if (it == kCodes.end()) {
      fail("numpy dtype '" + code + "' is not read (numeric dtypes only)", ErrorKind::kUnsupported);
    }
    return it->second;
  }

  // numpy.core.multiarray.scalar(dtype, raw bytes): the Python number it stands for.
  Value* numpy_scalar(const Value& dtype_value, const Value& raw) {
    const c10::ScalarType dtype = numpy_dtype(dtype_value);
    if (!raw.is(ValueKind::kBytes) ||
        raw.as_string().size() != static_cast<size_t>(c10::elementSize(dtype))) {
      fail("numpy scalar of dtype " + std::string(c10::toString(dtype)) +
           " does not hold exactly one element's bytes");
    }
    at::Tensor t = at::empty({}, at::TensorOptions().dtype(dtype));
    std::memcpy(t.data_ptr(), raw.as_string().data(), raw.as_string().size());
    if (t.is_complex()) fail("complex numpy scalars are not read", ErrorKind::kUnsupported);
    if (dtype == c10::kBool) return make(ValueKind::kBool, t.item<bool>());
    if (t.is_floating_point()) return make(ValueKind::kFloat, t.item<double>());
    return make(ValueKind::kInt, t.item<int64_t>());
  }

  // BUILD copies its state dict into the object; one memoized dict built into many objects
  // would grow quadratically in the input, so the copies are bounded by the input's size.
  void count_copied(size_t entries) {
    copied_entries_ += entries;
    if (copied_entries_ > size_ + (size_t{1} << 16)) {
      fail("object states copy " + std::to_string(copied_entries_) +
           " dict entries, more than a " + std::to_string(size_) + "-byte pickle can hold");
    }
  }

  // BUILD on an allow-listed object: fills it from its pickled state.
  void build_object(Value& target, const Value& state) {
    const std::string& cls = target.as_string();
    if (cls == "argparse.Namespace") {
      if (!state.is(ValueKind::kDict)) fail("argparse.Namespace state is not a dict");
      count_copied(state.dict().entries.size());
      target.reset(ValueKind::kDict, state.dict());
      return;
    }
    if (cls.rfind("numpy.dtype:", 0) == 0) {
      // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
      if (!state.is(ValueKind::kTuple) || state.items().size() < 5 ||
          !state.items()[1]->is(ValueKind::kString)) {
        fail("numpy dtype state is not a tuple (version, byteorder, ...)");
      }
      const std::string& order = state.items()[1]->as_string();
      if (order != "<" && order != "|" && order != "=") {
        fail("numpy dtype with byte order '" + order + "' is not read (little-endian only)",
             ErrorKind::kUnsupported);
      }
      for (size_t i = 2; i < 5; ++i) {
        if (!state.items()[i]->is(ValueKind::kNone)) {
          fail("structured numpy dtypes are not read", ErrorKind::kUnsupported);
        }
      }
      return;
    }
    if (cls == "numpy.ndarray") {
      target.reset(ValueKind::kTensor, numpy_array(state));
      return;
    }
    if (cls.rfind(kScriptClassPrefix, 0) == 0) {
      // A module's attributes; a class with its own __getstate__ pickles other state, which
      // stays opaque (an object of that class).
      const std::string name = cls.substr(std::char_traits<char>::length(kScriptClassPrefix));
      if (state.is(ValueKind::kDict)) {
        count_copied(state.dict().entries.size());
        target.reset(ValueKind::kDict, state.dict());
      }
      (*script_classes_)[&target] = name;
      return;
    }
    fail("BUILD on a " + cls);
  }

  // ndarray state (version, shape, dtype, is_fortran, raw bytes) -> a tensor owning a copy.
  at::Tensor numpy_array(const Value& state) {
    if (!state.is(ValueKind::kTuple) || state.items().size() != 5) {
      fail("numpy array state is not (version, shape, dtype, is_fortran, data)");
    }
    const auto& s = state.items();
    std::vector<int64_t> shape = int_tuple(*s[1], "shape");
    const c10::ScalarType dtype = numpy_dtype(*s[2]);
    if (!s[4]->is(ValueKind::kBytes)) {
      fail("numpy array data is a " + std::string(s[4]->kind_name()) +
               " (object arrays are not read)",
           ErrorKind::kUnsupported);
    }
    const std::string& raw = s[4]->as_string();
    // The data is already in memory, so its length bounds the allocation.
    uint64_t numel = 1;
    for (int64_t d : shape) {
      if (d < 0 || __builtin_mul_overflow(numel, static_cast<uint64_t>(d), &numel)) {
        fail("numpy array shape is negative or overflows");
      }
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel, c10::elementSize(dtype), &nbytes) || nbytes != raw.size()) {
      fail("numpy array of " + std::to_string(numel) + " elements has " +
           std::to_string(raw.size()) + " data bytes");
    }
    const bool fortran = s[3]->is(ValueKind::kBool) && s[3]->as_bool();
    std::vector<int64_t> stored(shape);
    if (fortran) std::reverse(stored.begin(), stored.end());
    at::Tensor t = at::empty(stored, at::TensorOptions().dtype(dtype));
    if (nbytes > 0) std::memcpy(t.data_ptr(), raw.data(), nbytes);
    if (fortran) {  // column-major: the reversed shape, transposed back
      std::vector<int64_t> dims(shape.size());
      for (size_t i = 0; i < dims.size(); ++i) dims[i] = static_cast<int64_t>(dims.size() - 1 - i);
      t = t.permute(dims);
    }
    return t;
  }

  // UTF-8 text whose code points are all below 256 -> one byte per code point.
  std::string latin1_bytes(const std::string& utf8) {
    std::string out;
    for (size_t i = 0; i < utf8.size(); ++i) {
      auto c = static_cast<uint8_t>(utf8[i]);
      if (c < 0x80) {
        out.push_back(static_cast<char>(c));
      } else if ((c == 0xc2 || c == 0xc3) && i + 1 < utf8.size() &&
                 (static_cast<uint8_t>(utf8[i + 1]) & 0xc0) == 0x80) {
        out.push_back(static_cast<char>(((c & 0x03) << 6) | (utf8[++i] & 0x3f)));
      } else {
        fail("_codecs.encode: text is not latin-1");
      }
    }
    return out;
  }

  std::vector<int64_t> int_tuple(const Value& v, const char* what) {
    if (!v.is(ValueKind::kTuple) && !v.is(ValueKind::kList)) {
      fail(std::string("tensor ") + what + " is a " + v.kind_name() + ", expected a tuple");
    }
    std::vector<int64_t> out;
    for (const Value* item : v.items()) {
      if (!item->is(ValueKind::kInt)) fail(std::string("tensor ") + what + " holds a non-int");
      out.push_back(item->as_int());
    }
    return out;
  }

  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks):
  // a view of the storage, as torch.load makes (tensors that shared a storage still do).
  Value* rebuild_tensor(const std::vector<const Value*>& args) {
    if (storage_values_.count(args[0]) == 0) {
      fail("_rebuild_tensor_v2: first argument is not a storage");
    }
    const at::Tensor& storage = args[0]->tensor();
    if (!args[1]->is(ValueKind::kInt)) fail("_rebuild_tensor_v2: storage offset is not an int");
    int64_t offset = args[1]->as_int();
    std::vector<int64_t> size = int_tuple(*args[2], "size");
    std::vector<int64_t> stride = int_tuple(*args[3], "stride");
    if (size.size() != stride.size()) {
      fail("tensor size has " + std::to_string(size.size()) + " dims but stride has " +
           std::to_string(stride.size()));
    }
    // The view must lie inside the storage: offset + sum((size_i - 1) * stride_i) < numel.
    // Checked with overflow-safe arithmetic since every number comes from the file.
    const int64_t numel = storage.numel();
    if (offset < 0 || offset > numel) {
      fail("tensor storage offset " + std::to_string(offset) + " outside a storage of " +
           std::to_string(numel) + " elements");
    }
    bool empty = false;
    for (size_t i = 0; i < size.size(); ++i) {
      if (size[i] < 0 || stride[i] < 0) fail("negative tensor size or stride");
      if (size[i] == 0) empty = true;
    }
    if (!empty) {
      int64_t last = offset;
      for (size_t i = 0; i < size.size(); ++i) {
        int64_t span;
        if (__builtin_mul_overflow(size[i] - 1, stride[i], &span) ||
            __builtin_add_overflow(last, span, &last)) {
          fail("tensor size/stride overflow");
        }
      }
      if (last >= numel) {
        fail("tensor of size " + c10::str(c10::IntArrayRef(size)) + ", stride " +
             c10::str(c10::IntArrayRef(stride)) + ", offset " + std::to_string(offset) +
             " reads past a storage of " + std::to_string(numel) + " elements");
      }
    }
    // Legacy storage views start inside their root storage; as_strided's offset is absolute.
    return make(ValueKind::kTensor,
                storage.as_strided(size, stride, storage.storage_offset() + offset));
  }

  // BINPERSID with ('storage', storage_type, key, location, numel): the record data/<key>,
  // loaded once per key. The location (e.g. 'cuda:0') is ignored: everything loads to CPU.
  Value* persistent_load(const Value& pid) {
    if (!pid.is(ValueKind::kTuple) || pid.items().size() < 5 || pid.items().size() > 6) {
      fail(
          "persistent id is not a 5-tuple ('storage', type, key, location, numel) or the "
          "legacy 6-tuple (..., view_metadata)");
    }
    const auto& f = pid.items();
    if (!f[0]->is(ValueKind::kString) || f[0]->as_string() != "storage") {
      fail("persistent id does not start with 'storage'");
    }
    c10::ScalarType dtype;
    if (!f[1]->is(ValueKind::kGlobal) || f[1]->global_name().rfind("torch.", 0) != 0 ||
        !storage_dtype(f[1]->global_name().substr(6), &dtype)) {
      fail("persistent id names no storage type");
    }
    if (!f[2]->is(ValueKind::kString)) fail("storage key is not a str");
    if (!f[4]->is(ValueKind::kInt) || f[4]->as_int() < 0) fail("storage size is not an int >= 0");
    const std::string& key = f[2]->as_string();
    int64_t numel = f[4]->as_int();
    Value* root = load_root_storage(key, dtype, numel);
    if (f.size() == 5 || f[5]->is(ValueKind::kNone)) return root;
    // Legacy storage view: (view_key, offset, numel) in elements of the root storage.
    const Value& view = *f[5];
    if (!view.is(ValueKind::kTuple) || view.items().size() != 3 ||
        !view.items()[0]->is(ValueKind::kString) || !view.items()[1]->is(ValueKind::kInt) ||
        !view.items()[2]->is(ValueKind::kInt)) {
      fail("storage view metadata is not (key, offset, size)");
    }
    const std::string& view_key = view.items()[0]->as_string();
    const int64_t offset = view.items()[1]->as_int(), size = view.items()[2]->as_int();
    if (offset < 0 || size < 0 || offset > numel || size > numel - offset) {
      fail("storage view [" + std::to_string(offset) + ", +" + std::to_string(size) +
           ") outside storage '" + key + "' of " + std::to_string(numel) + " elements");
    }
    auto it = views_.find(view_key);
    if (it != views_.end()) return it->second;
    Value* v = make(ValueKind::kTensor, root->tensor().narrow(0, offset, size));
    views_.emplace(view_key, v);
    storage_values_.insert(v);
    return v;
  }

  Value* load_root_storage(const std::string& key, c10::ScalarType dtype, int64_t numel) {
    auto it = storages_.find(key);
    if (it != storages_.end()) {
      const at::Tensor& t = it->second->tensor();
      if (t.scalar_type() != dtype || t.numel() != numel) {
        fail("storage '" + key + "' is used with two different types or sizes");
      }
      return it->second;
    }
    at::Tensor t = loader_(key, dtype, numel);
    if (!t.defined() || t.scalar_type() != dtype || t.numel() != numel || t.dim() != 1) {
      throw Error(ErrorKind::kInternal, context_ + ": storage loader returned a wrong tensor");
    }
    Value* v = make(ValueKind::kTensor, std::move(t));
    storages_.emplace(key, v);
    storage_values_.insert(v);
    return v;
  }

  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_offset_ = 0;
  uint8_t op_ = 0;
  const StorageLoader& loader_;
  const std::string& context_;
  ValueArena* arena_ = nullptr;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value*> memo_;
  std::unordered_map<std::string, Value*> storages_;
  std::unordered_map<std::string, Value*> views_;
  std::unordered_set<const Value*> storage_values_;
  PickleOptions options_;
  std::unordered_map<const Value*, std::string>* script_classes_ = nullptr;
  size_t copied_entries_ = 0;  // dict entries copied by BUILD (count_copied)
};

}  // namespace

bool storage_dtype(const std::string& name, c10::ScalarType* dtype) {
  for (const StorageType& s : kStorageTypes) {
    if (name == s.name) {
      *dtype = s.dtype;
      return true;
    }
  }
  return false;
}

Unpickled read_pickle(const void* data, size_t size, const StorageLoader& load_storage,
                      const std::string& context, const PickleOptions& options) {
  return Unpickler(static_cast<const uint8_t*>(data), size, load_storage, context, options).run();
}

}  // namespace ptinfer::checkpoint
