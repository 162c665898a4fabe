// Writing checkpoints that Python's torch.load reads: the zip format torch.save writes since
// PyTorch 1.6 (caffe2::serialize::PyTorchStreamWriter, which LibTorch ships) holding a protocol-2
// pickle ("data.pkl") of plain Python values, tensors as torch._utils._rebuild_tensor_v2 calls
// on persistent storages ('storage', torch.<Type>Storage, key, 'cpu', numel) in records
// data/<key>. Only globals that torch.load(..., weights_only=True) allows are written
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch.*Storage), so the file loads
// with and without weights_only, in torch 1.13 and later, and with our own reader.
//
// LibTorch's torch::save is not an alternative: it writes a TorchScript archive, which Python's
// torch.load does not return as a dict.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ptinfer::checkpoint {

// A Python value to pickle. Containers hold their elements in `items`; a dict holds
// key, value, key, value, ... in insertion order.
struct PyValue {
  enum class Kind { kNone, kBool, kInt, kFloat, kString, kTensor, kList, kTuple, kDict, kOrderedDict };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  torch::Tensor tensor;
  std::vector<PyValue> items;
  // An OrderedDict's instance attributes, key, value, ... (a state dict's "_metadata"): pickled
  // as the object's state (BUILD), as Python pickles an OrderedDict with a __dict__.
  std::vector<PyValue> attributes;

  static PyValue none() { return {}; }
  static PyValue boolean(bool v);
  static PyValue integer(int64_t v);
  static PyValue real(double v);
  static PyValue str(std::string v);
  // Any dense tensor of a dtype torch.save can store; saved as its CPU contiguous values (a copy
  // when it is not already), detached, requires_grad False.
  static PyValue from_tensor(torch::Tensor t);
  static PyValue list(std::vector<PyValue> v = {});
  static PyValue tuple(std::vector<PyValue> v = {});
  static PyValue dict();
  static PyValue ordered_dict();

  // Appends key -> value to a dict/OrderedDict (no duplicate check); returns *this.
  PyValue& set(PyValue key, PyValue value);
  // Sets the OrderedDict's attribute `name` (no duplicate check); returns *this.
  PyValue& set_attribute(const std::string& name, PyValue value);
  PyValue& set(const std::string& key, PyValue value) { return set(str(key), std::move(value)); }
};

// The pickle (protocol 2) of `root`, with each tensor replaced by a persistent storage id;
// `storages` receives the tensors' data in key order (key = index as a decimal string).
// Throws Error(kUnsupported) for a tensor dtype torch.save has no storage type for.
std::string pickle_value(const PyValue& root, std::vector<torch::Tensor>* storages);

// Writes `root` to `path` as torch.save(root, path) would. The file is written to a temporary
// file beside `path` and renamed over it only when complete, so a failure leaves no partial file
// (and an existing `path` untouched). Throws Error(kInvalidArgument) naming `path` and the reason
// when it cannot be written (missing directory, no permission, disk full); Error(kUnsupported)
// as pickle_value.
void save_torch_file(const std::string& path, const PyValue& root);

}  // namespace ptinfer::checkpoint
