#include "checkpoint/torch_save.h"

#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace ptinfer::checkpoint {
namespace {

// Python's storage class for each dtype, as torch.save names it in the persistent id.
const char* storage_name(c10::ScalarType t) {
  switch (t) {
    case c10::kFloat: return "FloatStorage";
    case c10::kDouble: return "DoubleStorage";
    case c10::kHalf: return "HalfStorage";
    case c10::kBFloat16: return "BFloat16Storage";
    case c10::kLong: return "LongStorage";
    case c10::kInt: return "IntStorage";
    case c10::kShort: return "ShortStorage";
    case c10::kChar: return "CharStorage";
    case c10::kByte: return "ByteStorage";
    case c10::kBool: return "BoolStorage";
    default: return nullptr;
  }
}

class PickleWriter {
 public:
  explicit PickleWriter(std::vector<torch::Tensor>* storages) : storages_(storages) {}

  std::string finish(const PyValue& root) {
    out_ += "\x80\x02";  // PROTO 2
    write(root);
    out_ += '.';  // STOP
    return std::move(out_);
  }

 private:
  void op(char c) { out_ += c; }
  void u32(uint32_t v) {
    for (int k = 0; k < 4; ++k) out_ += static_cast<char>((v >> (8 * k)) & 0xff);
  }
  void global(const char* module, const char* name) {
    op('c');  // GLOBAL module\nname\n
    out_ += module;
    out_ += '\n';
    out_ += name;
    out_ += '\n';
  }
  void string(const std::string& s) {
    op('X');  // BINUNICODE: 4-byte little-endian length, UTF-8 bytes
    u32(static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');  // BININT1
      out_ += static_cast<char>(v);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');  // BININT: signed 4-byte little-endian
      u32(static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else {
      op('\x8a');  // LONG1: 8 bytes, two's complement little-endian
      out_ += static_cast<char>(8);
      uint64_t u = static_cast<uint64_t>(v);
      for (int k = 0; k < 8; ++k) out_ += static_cast<char>((u >> (8 * k)) & 0xff);
    }
  }
  void real(double v) {
    op('G');  // BINFLOAT: big-endian IEEE 754 double
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int k = 7; k >= 0; --k) out_ += static_cast<char>((bits >> (8 * k)) & 0xff);
  }
  void items(const std::vector<PyValue>& v) {
    for (const auto& x : v) write(x);
  }
  void tuple(const std::vector<int64_t>& v) {
    if (v.empty()) {
      op(')');
      return;
    }
    op('(');
    for (int64_t x : v) integer(x);
    op('t');
  }
  void empty_ordered_dict() {
    global("collections", "OrderedDict");
    op(')');
    op('R');
  }
  void tensor(const torch::Tensor& t_in) {
    torch::Tensor t = t_in.detach().to(torch::kCPU).contiguous();
    const char* storage = storage_name(t.scalar_type());
    if (storage == nullptr) {
      throw Error(ErrorKind::kUnsupported,
                  std::string("cannot save a tensor of dtype ") + c10::toString(t.scalar_type()));
    }
    if (t.storage_offset() != 0 ||
        static_cast<size_t>(t.numel()) * t.element_size() != t.storage().nbytes()) {
      t = t.clone();  // a view into a larger storage: store exactly its elements
    }
    const std::string key = std::to_string(storages_->size());
    storages_->push_back(t);
    // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)
    global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');  // persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel)
    string("storage");
    global("torch", storage);
    string(key);
    string("cpu");
    integer(t.numel());
    op('t');
    op('Q');  // BINPERSID
    integer(0);
    tuple(t.sizes().vec());
    tuple(t.strides().vec());
    op('\x89');  // NEWFALSE: requires_grad
    empty_ordered_dict();
    op('t');
    op('R');
  }
  void write(const PyValue& v) {
    using K = PyValue::Kind;
    switch (v.kind) {
      case K::kNone: op('N'); break;
      case K::kBool: op(v.b ? '\x88' : '\x89'); break;
      case K::kInt: integer(v.i); break;
      case K::kFloat: real(v.f); break;
      case K::kString: string(v.s); break;
      case K::kTensor: tensor(v.tensor); break;
      case K::kList:
        op(']');  // EMPTY_LIST, then MARK items APPENDS
        if (!v.items.empty()) {
          op('(');
          items(v.items);
          op('e');
        }
        break;
      case K::kTuple:
        if (v.items.empty()) {
          op(')');
        } else {
          op('(');
          items(v.items);
          op('t');
        }
        break;
      case K::kDict:
      case K::kOrderedDict:
        if (v.kind == K::kDict) {
          op('}');
        } else {
          empty_ordered_dict();
        }
        if (!v.items.empty()) {  // MARK key value ... SETITEMS
          op('(');
          items(v.items);
          op('u');
        }
        if (!v.attributes.empty()) {  // {name: value, ...} BUILD: the instance's __dict__
          op('}');
          op('(');
          items(v.attributes);
          op('u');
          op('b');
        }
        break;
    }
  }

  std::vector<torch::Tensor>* storages_;
  std::string out_;
};

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

PyValue PyValue::boolean(bool v) {
  PyValue p;
  p.kind = Kind::kBool;
  p.b = v;
  return p;
}
PyValue PyValue::integer(int64_t v) {
  PyValue p;
  p.kind = Kind::kInt;
  p.i = v;
  return p;
}
PyValue PyValue::real(double v) {
  PyValue p;
  p.kind = Kind::kFloat;
  p.f = v;
  return p;
}
PyValue PyValue::str(std::string v) {
  PyValue p;
  p.kind = Kind::kString;
  p.s = std::move(v);
  return p;
}
PyValue PyValue::from_tensor(torch::Tensor t) {
  PyValue p;
  p.kind = Kind::kTensor;
  p.tensor = std::move(t);
  return p;
}
PyValue PyValue::list(std::vector<PyValue> v) {
  PyValue p;
  p.kind = Kind::kList;
  p.items = std::move(v);
  return p;
}
PyValue PyValue::tuple(std::vector<PyValue> v) {
  PyValue p;
  p.kind = Kind::kTuple;
  p.items = std::move(v);
  return p;
}
PyValue PyValue::dict() {
  PyValue p;
  p.kind = Kind::kDict;
  return p;
}
PyValue PyValue::ordered_dict() {
  PyValue p;
  p.kind = Kind::kOrderedDict;
  return p;
}

PyValue& PyValue::set(PyValue key, PyValue value) {
  if (kind != Kind::kDict && kind != Kind::kOrderedDict) {
    throw Error(ErrorKind::kInternal, "PyValue::set on a value that is not a dict");
  }
  items.push_back(std::move(key));
  items.push_back(std::move(value));
  return *this;
}

PyValue& PyValue::set_attribute(const std::string& name, PyValue value) {
  if (kind != Kind::kOrderedDict) {
    throw Error(ErrorKind::kInternal, "PyValue::set_attribute on a value that is not an OrderedDict");
  }
  attributes.push_back(str(name));
  attributes.push_back(std::move(value));
  return *this;
}

std::string pickle_value(const PyValue& root, std::vector<torch::Tensor>* storages) {
  PickleWriter writer(storages);
  return writer.finish(root);
}

void save_torch_file(const std::string& path, const PyValue& root) {
  std::vector<torch::Tensor> storages;
  const std::string pickle = pickle_value(root, &storages);  // before any file is created

  // The archive is assembled in memory first: PyTorchStreamWriter cannot report a failing
  // writer without throwing from its destructor, and a complete buffer makes the file write
  // one checked call.
  std::string archive;
  {
    // The function-writer constructor names the archive folder "archive", as torch.save does
    // for file-like objects (torch.load ignores the folder name).
    caffe2::serialize::PyTorchStreamWriter writer([&archive](const void* data, size_t size) {
      archive.append(static_cast<const char*>(data), size);
      return size;
    });
    writer.writeRecord("data.pkl", pickle.data(), pickle.size());
    for (size_t k = 0; k < storages.size(); ++k) {
      const torch::Tensor& t = storages[k];
      writer.writeRecord("data/" + std::to_string(k), t.data_ptr(),
                         static_cast<size_t>(t.numel()) * t.element_size());
    }
    writer.writeEndOfFile();  // the "version" record and the zip directory
  }

  auto cannot = [&path](int err) {
    return Error(ErrorKind::kInvalidArgument,
                 "cannot write checkpoint '" + path + "': " + errno_text(err));
  };
  std::string tmp = path + ".tmpXXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) throw cannot(errno);
  ::fchmod(fd, 0644);  // as a file torch.save creates under the usual umask
  int err = 0;
  size_t done = 0;
  while (done < archive.size() && err == 0) {
    ssize_t n = ::write(fd, archive.data() + done, archive.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
    } else {
      done += static_cast<size_t>(n);
    }
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && std::rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    std::remove(tmp.c_str());
    throw cannot(err);
  }
}

}  // namespace ptinfer::checkpoint
