#include "checkpoint/pickle_reader.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "checkpoint/checkpoint_test_util.h"

namespace ptinfer::checkpoint {
namespace {

using namespace std::string_literals;

using testing::expect_error;
using testing::fixture_path;
using testing::manifest;

// Builds pickles opcode by opcode (protocol 2, as torch.save writes them).
class PickleBuilder {
 public:
  PickleBuilder& raw(const std::string& bytes) {
    out_ += bytes;
    return *this;
  }
  PickleBuilder& op(char c) { return raw(std::string(1, c)); }
  PickleBuilder& str(const std::string& s) {  // BINUNICODE
    op('X');
    le(s.size(), 4);
    return raw(s);
  }
  PickleBuilder& int1(uint8_t v) {  // BININT1
    op('K');
    return le(v, 1);
  }
  PickleBuilder& binint(int32_t v) {  // BININT
    op('J');
    return le(static_cast<uint32_t>(v), 4);
  }
  PickleBuilder& global(const std::string& module, const std::string& name) {
    return op('c').raw(module + "\n" + name + "\n");
  }
  PickleBuilder& int_tuple(const std::vector<int64_t>& v) {
    op('(');
    for (int64_t x : v) binint(static_cast<int32_t>(x));
    return op('t');
  }
  // _rebuild_tensor_v2(storage 'key' of `numel` floats, offset, size, stride, False, {}).
  PickleBuilder& tensor(const std::string& key, int64_t numel, int64_t offset,
                        const std::vector<int64_t>& size, const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", "FloatStorage").str(key).str("cpu");
    binint(static_cast<int32_t>(numel)).op('t').op('Q');
    binint(static_cast<int32_t>(offset)).int_tuple(size).int_tuple(stride).op('\x89');
    global("collections", "OrderedDict").op(')').op('R');
    return op('t').op('R');
  }
  PickleBuilder& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_ = "\x80\x02";  // PROTO 2
};

// A loader that hands out arange(numel) storages and counts its calls.
struct CountingLoader {
  int calls = 0;
  StorageLoader fn() {
    return [this](const std::string&, c10::ScalarType dtype, int64_t numel) {
      ++calls;
      return torch::arange(numel, torch::TensorOptions().dtype(dtype));
    };
  }
};

Unpickled parse(const std::string& bytes, CountingLoader* loader = nullptr) {
  CountingLoader unused;
  return read_pickle(bytes.data(), bytes.size(), (loader ? loader : &unused)->fn(), "test.pkl");
}

// Compares our value tree with the fixture script's tagged JSON of what pickle.load returned.
void expect_matches(const Value& v, const nlohmann::json& expected, const std::string& where) {
  ASSERT_TRUE(expected.is_object() && expected.size() == 1) << where;
  const std::string tag = expected.begin().key();
  const nlohmann::json& x = expected.begin().value();
  SCOPED_TRACE(where);
  if (tag == "none") {
    EXPECT_TRUE(v.is(ValueKind::kNone));
  } else if (tag == "bool") {
    ASSERT_TRUE(v.is(ValueKind::kBool));
    EXPECT_EQ(v.as_bool(), x.get<bool>());
  } else if (tag == "int") {
    ASSERT_TRUE(v.is(ValueKind::kInt));
    EXPECT_EQ(v.as_int(), x.get<int64_t>());
  } else if (tag == "float") {
    ASSERT_TRUE(v.is(ValueKind::kFloat));
    EXPECT_EQ(v.as_double(), x.get<double>());
  } else if (tag == "str") {
    ASSERT_TRUE(v.is(ValueKind::kString));
    EXPECT_EQ(v.as_string(), x.get<std::string>());
  } else if (tag == "bytes") {
    ASSERT_TRUE(v.is(ValueKind::kBytes));
    std::string bytes;
    for (const auto& b : x) bytes.push_back(static_cast<char>(b.get<int>()));
    EXPECT_EQ(v.as_string(), bytes);
  } else if (tag == "tuple" || tag == "list") {
    ASSERT_TRUE(v.is(tag == "tuple" ? ValueKind::kTuple : ValueKind::kList)) << v.kind_name();
    ASSERT_EQ(v.items().size(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      expect_matches(*v.items()[i], x[i], where + "[" + std::to_string(i) + "]");
    }
  } else if (tag == "dict") {
    ASSERT_TRUE(v.is(ValueKind::kDict)) << v.kind_name();
    ASSERT_EQ(v.dict().entries.size(), x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      expect_matches(*v.dict().entries[i].first, x[i][0], where + ".key" + std::to_string(i));
      expect_matches(*v.dict().entries[i].second, x[i][1], where + ".value" + std::to_string(i));
    }
  } else if (tag == "array") {
    ASSERT_TRUE(v.is(ValueKind::kTensor)) << v.kind_name();
    EXPECT_EQ(v.tensor().sizes().vec(), x["shape"].get<std::vector<int64_t>>());
    testing::expect_values(v.tensor(), x["values"], where);
  } else {
    FAIL() << "unknown tag " << tag;
  }
}

TEST(PickleReaderTest, ReadsEveryValueKindPythonWrote) {
  std::ifstream in(fixture_path("nested.pkl"), std::ios::binary);
  ASSERT_TRUE(in) << "missing fixture nested.pkl";
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Unpickled doc = parse(bytes);
  ASSERT_TRUE(manifest().contains("nested.pkl"));
  expect_matches(*doc.root, manifest()["nested.pkl"]["value"], "root");
  // The memo makes the two list entries one object, as in Python.
  const Value* shared = doc.root->find("shared");
  ASSERT_NE(shared, nullptr);
  EXPECT_EQ(shared->items()[0], shared->items()[1]);
}

TEST(PickleReaderTest, UnknownOpcodeNamesOpcodeAndOffset) {
  std::string msg = expect_error(ErrorKind::kCorruptData, [] { parse("\x80\x02N\xff."s); });
  EXPECT_NE(msg.find("test.pkl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("0xff"), std::string::npos) << msg;
  EXPECT_NE(msg.find("offset 3"), std::string::npos) << msg;
}

TEST(PickleReaderTest, MalformedInputIsCorruptData) {
  const std::vector<std::string> cases = {
      ""s,                           // nothing
      "\x80\x02N"s,                  // no STOP
      "\x80\x02."s,                  // STOP on an empty stack
      "\x80\x02X\xff\xff\xff\xff"s,  // string longer than the input: no 4 GB allocation
      "\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\x7f"s,           // BINUNICODE8 claiming 2^63 bytes
      "\x80\x02h\x05."s,                                         // memo entry never stored
      "\x80\x02N("s + "a."s,                                     // APPEND across a MARK
      "\x80\x02NN"s + "a."s,                                     // APPEND to None
      "\x80\x02}Nu."s,                                           // SETITEMS without MARK
      "\x80\x02}(N)s."s,                                         // MARK then too few for SETITEM
      "\x80\x02}(K\x01u."s,                                      // odd SETITEMS
      "\x80\x02}]K\x01s."s,                                      // list as dict key (unhashable)
      "\x80\x02\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01."s,  // int wider than 64 bits
      "\x80\x02G\x00\x00."s,                                     // short BINFLOAT
      "\x80\x02"s + "ccollections\nOrderedDict"s,                // GLOBAL without newline
      "\x80\x02NN\x81."s,                                        // NEWOBJ on None
      "\x80\x02]Nb."s,                                           // BUILD on a list
      "\x80\x02N\x80\x09."s,                                     // unknown protocol
  };
  for (const std::string& c : cases) {
    expect_error(ErrorKind::kCorruptData, [&] { parse(c); });
  }
}

TEST(PickleReaderTest, RefusesGlobalsOutsideTheAllowList) {
  struct Case {
    std::string pickle, name;
  };
  const std::vector<Case> cases = {
      {"\x80\x02"s + "cos\nsystem\nX\x02\x00\x00\x00ls\x85R."s, "os.system"},
      {"\x80\x02"
       "cposix\nsystem\n.",
       "posix.system"},
      {"\x80\x02"
       "c__builtin__\neval\n.",
       "builtins.eval"},
      {"\x80\x02"
       "\x8c\x08"
       "builtins\x8c\x04"
       "exec\x93.",
       "builtins.exec"},
      {"\x80\x02"
       "ctorch.storage\n_load_from_bytes\n.",
       "torch.storage._load_from_bytes"},
      // numpy.core.multiarray.scalar and argparse.Namespace are allowed; their neighbours not.
      {"\x80\x02"
       "cnumpy.testing._private.utils\nrunstring\n.",
       "numpy.testing._private.utils.runstring"},
      {"\x80\x02"
       "cnumpy\nload\n.",
       "numpy.load"},
      {"\x80\x02"
       "cargparse\nArgumentParser\n.",
       "argparse.ArgumentParser"},
  };
  for (const Case& c : cases) {
    std::string msg = expect_error(ErrorKind::kUnsupported, [&] { parse(c.pickle); });
    EXPECT_NE(msg.find("refusing global '" + c.name + "'"), std::string::npos) << msg;
  }
}

TEST(PickleReaderTest, OrderedDictWithMetadataBuild) {
  PickleBuilder b;
  b.global("collections", "OrderedDict").op(')').op('R').op('q').le(0, 1);
  b.op('(').str("a").int1(1).str("b").binint(-7).op('u');
  b.op('}').str("_metadata").op('}').op('s').op('b').op('.');  // BUILD {'_metadata': {}}
  Unpickled doc = parse(b.bytes());
  ASSERT_TRUE(doc.root->is(ValueKind::kDict));
  ASSERT_EQ(doc.root->dict().entries.size(), 2u);
  EXPECT_EQ(doc.root->find("a")->as_int(), 1);
  EXPECT_EQ(doc.root->find("b")->as_int(), -7);
  EXPECT_EQ(doc.root->find("_metadata"), nullptr);
}

TEST(PickleReaderTest, SharedStorageIsLoadedOnceAndViewsKeepGeometry) {
  PickleBuilder b;
  b.op(']').op('(');
  b.tensor("0", 12, 0, {3, 4}, {4, 1});
  b.tensor("0", 12, 5, {2, 2}, {1, 3});  // non-contiguous view with an offset
  b.tensor("1", 3, 0, {}, {});           // 0-d tensor of another storage
  b.op('e').op('.');
  CountingLoader loader;
  Unpickled doc = parse(b.bytes(), &loader);
  EXPECT_EQ(loader.calls, 2);
  const auto& items = doc.root->items();
  ASSERT_EQ(items.size(), 3u);
  torch::Tensor full = items[0]->tensor(), view = items[1]->tensor(), scalar = items[2]->tensor();
  EXPECT_TRUE(torch::equal(full, torch::arange(12, torch::kFloat).reshape({3, 4})));
  EXPECT_EQ(view.strides(), (std::vector<int64_t>{1, 3}));
  EXPECT_TRUE(torch::equal(view, full.as_strided({2, 2}, {1, 3}, 5)));
  EXPECT_TRUE(view.is_alias_of(full));
  EXPECT_EQ(scalar.dim(), 0);
  EXPECT_EQ(scalar.item<float>(), 0.0f);
}

TEST(PickleReaderTest, RejectsTensorsOutsideTheirStorage) {
  struct Case {
    int64_t offset;
    std::vector<int64_t> size, stride;
  };
  const std::vector<Case> cases = {
      {0, {3, 5}, {4, 1}},  // one row too long
      {1, {3, 4}, {4, 1}},  // offset pushes the last element out
      {13, {0}, {1}},       // offset beyond the storage
      {-1, {2}, {1}},       // negative offset
      {0, {2}, {-1}},       // negative stride
      {0, {-2}, {1}},       // negative size
      {0, {2, 2}, {1}},     // size and stride lengths differ
      {0, {2, 0x7fffffff, 0x7fffffff}, {0x7fffffff, 0x7fffffff, 0x7fffffff}},  // overflow
  };
  for (const Case& c : cases) {
    PickleBuilder b;
    b.tensor("0", 12, c.offset, c.size, c.stride).op('.');
    expect_error(ErrorKind::kCorruptData, [&] { parse(b.bytes()); });
  }
  PickleBuilder empty_ok;
  empty_ok.tensor("0", 12, 12, {0, 5}, {5, 1}).op('.');
  EXPECT_EQ(parse(empty_ok.bytes()).root->tensor().numel(), 0);
}

TEST(PickleReaderTest, SelfContainingAndDeeplyNestedListsDoNotCrash) {
  // l = []; l.append(l)
  Unpickled cyclic = parse("\x80\x02]q\x00h\x00"s + "a."s);
  EXPECT_EQ(cyclic.root->items()[0], cyclic.root);
  // 200000 nested lists: destroying them must not recurse.
  const int depth = 200000;
  std::string deep = "\x80\x02" + std::string(depth, ']') + std::string(depth - 1, 'a') + ".";
  Unpickled nested = parse(deep);
  EXPECT_EQ(nested.root->items().size(), 1u);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(PickleReaderTest, NamespaceNumpyDeviceSetsTuplesAreReadAsData) {
  const std::string bytes = read_file(fixture_path("extras.pkl"));
  ASSERT_FALSE(bytes.empty());
  Unpickled u = parse(bytes);
  expect_matches(*u.root, manifest()["extras.pkl"]["value"], "extras");
  EXPECT_EQ(u.end, bytes.size());
}

TEST(PickleReaderTest, NumpyObjectAndBigEndianArraysAreRefused) {
  std::string msg = expect_error(ErrorKind::kUnsupported,
                                 [] { parse(read_file(fixture_path("np_object.pkl"))); });
  EXPECT_NE(msg.find("numpy dtype 'O"), std::string::npos) << msg;
  msg = expect_error(ErrorKind::kUnsupported,
                     [] { parse(read_file(fixture_path("np_bigendian.pkl"))); });
  EXPECT_NE(msg.find("byte order '>'"), std::string::npos) << msg;
}

TEST(PickleReaderTest, NumpyArrayWithLyingShapeIsCorrupt) {
  // _reconstruct(ndarray, (0,), b'b') + BUILD (1, (1000000,), dtype('f4'), False, 8 bytes).
  PickleBuilder b;
  b.global("numpy.core.multiarray", "_reconstruct").op('(').global("numpy", "ndarray");
  b.op('(')
      .int1(0)
      .op('t')
      .raw(
          "C\x01"
          "b")
      .op('t')
      .op('R');  // (ndarray, (0,), b'b')
  b.op('(').int1(1).op('(').binint(1000000).op('t');
  b.global("numpy", "dtype").op('(').str("f4").op('\x89').op('\x88').op('t').op('R');
  b.op('(').int1(3).str("<").op('N').op('N').op('N').op('t').op('b');
  b.op('\x89').raw("C\x08").raw(std::string(8, '\0')).op('t').op('b').op('.');
  std::string msg = expect_error(ErrorKind::kCorruptData, [&] { parse(b.bytes()); });
  EXPECT_NE(msg.find("1000000 elements has 8 data bytes"), std::string::npos) << msg;
}

TEST(PickleReaderTest, LegacyStorageViewsNarrowTheirRoot) {
  // Persistent id ('storage', FloatStorage, '0', 'cpu', 10, ('v', 4, 3)): elements 4..6.
  PickleBuilder b;
  b.global("torch._utils", "_rebuild_tensor").op('(');
  b.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").binint(10);
  b.op('(').str("v").binint(4).binint(3).op('t').op('t').op('Q');
  b.binint(1).int_tuple({2}).int_tuple({1}).op('t').op('R').op('.');
  Unpickled u = parse(b.bytes());
  EXPECT_TRUE(torch::equal(u.root->tensor(), torch::tensor({5.0f, 6.0f})));
  PickleBuilder bad;  // a view past the root's end
  bad.op('(').str("storage").global("torch", "FloatStorage").str("0").str("cpu").binint(10);
  bad.op('(').str("v").binint(8).binint(3).op('t').op('t').op('Q').op('.');
  expect_error(ErrorKind::kCorruptData, [&] { parse(bad.bytes()); });
}

// Float dict keys of any magnitude (found by fuzz/pickle_fuzz: the key's int64 cast was
// undefined beyond 2^63; the sanitizer build checks it). 1.0 and 1 are one key, as in Python.
TEST(PickleReaderTest, FloatDictKeysOfAnyMagnitude) {
  PickleBuilder b;
  auto binfloat = [&b](double v) {  // BINFLOAT: 8 bytes, big-endian
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    b.op('G');
    for (int i = 7; i >= 0; --i) b.le(bits >> (8 * i), 1);
  };
  b.op('}').op('(');
  binfloat(1e300);
  b.int1(1);
  binfloat(-2.41737e35);
  b.int1(2);
  binfloat(1.0);
  b.int1(3);
  b.int1(1).int1(4);
  b.op('u').op('.');
  Unpickled u = parse(b.bytes());
  ASSERT_EQ(u.root->dict().entries.size(), 3u);
  EXPECT_EQ(u.root->dict().entries[2].second->as_int(), 4);
}

TEST(PickleReaderTest, OneDictBuiltIntoManyObjectsIsBoundedByTheInput) {
  // [d, Namespace() + BUILD(d), ... 100 times] with d a memoized 2000-entry dict: 200,000
  // copied entries from a 15 KB pickle.
  PickleBuilder b;
  b.op('(').op('}').op('q').raw(std::string(1, '\0')).op('(');
  for (int i = 0; i < 2000; ++i) b.binint(i).int1(0);
  b.op('u');
  b.global("argparse", "Namespace").op('q').raw("\x01");
  for (int i = 0; i < 100; ++i) {
    b.op('h').raw("\x01").op(')').op('\x81').op('h').raw(std::string(1, '\0')).op('b');
  }
  b.op('l').op('.');
  std::string msg = expect_error(ErrorKind::kCorruptData, [&] { parse(b.bytes()); });
  EXPECT_NE(msg.find("dict entries, more than a"), std::string::npos) << msg;
}

}  // namespace
}  // namespace ptinfer::checkpoint
