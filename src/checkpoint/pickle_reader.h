// A pickle interpreter for the data.pkl record of torch.save checkpoints. It executes nothing:
// GLOBAL/STACK_GLOBAL resolve only names in a fixed allow-list, and REDUCE/NEWOBJ apply only
// those, implemented here in C++:
//   collections.OrderedDict        -> dict (BUILD of its __dict__, e.g. `_metadata`, is ignored)
//   torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, meta])
//   torch._utils._rebuild_tensor(storage, offset, size, stride)  (PyTorch < 1.0 files)
//   torch._utils._rebuild_parameter(tensor, requires_grad, hooks)           -> the tensor
//   torch._utils._rebuild_parameter_with_state(tensor, requires_grad, hooks, state)
//   torch.<X>Storage for every dtype torch.save writes (storage types in persistent ids)
//   torch.Size(tuple) -> tuple, torch.device(type[, index]) -> str "type[:index]",
//   builtins.set / builtins.frozenset(list) -> list
//   _codecs.encode(str, 'latin1') / builtins.bytes() -> bytes (how protocol 2 writes bytes)
//   argparse.Namespace() + BUILD(dict) -> dict of its attributes
//   numpy.dtype(code, False, True) + BUILD(state) -> kObject "numpy.dtype:<code>" (little-endian
//     or byte-order-free numeric dtypes only)
//   numpy.core.multiarray.scalar(dtype, bytes) -> int / float / bool
//   numpy.core.multiarray._reconstruct(numpy.ndarray, (0,), b'b') + BUILD(version, shape, dtype,
//     is_fortran, bytes) -> tensor (a copy; numeric dtypes only, object arrays are refused)
//   (numpy 2 names these numpy._core.multiarray.*; both are accepted)
// In TorchScript mode (PickleOptions::torchscript, for the data.pkl of a torch.jit.save archive)
// also, as data:
//   __torch__.<class>() + BUILD(dict of attributes) -> dict of the attributes, its class recorded
//     in Unpickled::script_classes (BUILD with other state leaves an object of the class)
//   torch.jit._pickle.build_{int,double,bool,tensor}list(list) -> the list
//   torch.jit._pickle.restore_type_tag(container, type) -> the container
// Nothing of the archive's TorchScript code is compiled or run.
// Every other global (os.system, builtins.eval, ...) is refused at the opcode that names it.
//
// Opcodes: those of protocol 2 that torch.save writes, plus FRAME/MEMOIZE/STACK_GLOBAL/
// SHORT_BINUNICODE/BINUNICODE8 from protocol 4. Each read is bounds-checked against the input,
// so bad input gives Error(kCorruptData) naming the opcode and byte offset; allocations are
// bounded by the input size (including the dict entries BUILD copies into objects).
#pragma once

#include <c10/core/ScalarType.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "checkpoint/pickle_value.h"

namespace ptinfer::checkpoint {

// Returns the storage record `key` (data/<key> in the zip) as a 1-D contiguous CPU tensor of
// `dtype` holding exactly `numel` elements. Throws ptinfer::Error (kCorruptData when missing or
// too short). The interpreter calls it once per distinct key.
using StorageLoader =
    std::function<at::Tensor(const std::string& key, c10::ScalarType dtype, int64_t numel)>;

// The result of unpickling: the root value and the arena that owns every value.
struct Unpickled {
  std::unique_ptr<ValueArena> arena;
  const Value* root = nullptr;
  size_t end = 0;  // bytes consumed, STOP included (the legacy format has pickles back to back)
  // TorchScript mode: each object of a compiled class -> its class name without "__torch__."
  // (e.g. "torchvision.models.squeezenet.SqueezeNet").
  std::unordered_map<const Value*, std::string> script_classes;
};

struct PickleOptions {
  bool torchscript = false;  // also read TorchScript's data.pkl globals (see above)
};

// Interprets `size` bytes at `data` up to STOP. `context` (e.g. "<path>: data.pkl") prefixes
// every error message. Persistent ids are ('storage', type, key, location, numel) as the zip
// format writes them, or the legacy format's 6-tuple whose last item is None or a view
// (view_key, offset, numel) of the storage. Throws Error(kCorruptData) for malformed pickles
// (unknown opcode, short read, stack underflow, missing memo entry, bad tensor geometry, no STOP)
// and Error(kUnsupported) for globals outside the allow-list, e.g.
// "<context>: refusing global 'os.system' (not in the allow-list of torch.save checkpoints)".
Unpickled read_pickle(const void* data, size_t size, const StorageLoader& load_storage,
                      const std::string& context, const PickleOptions& options = {});

// The dtype a torch.<name> storage class holds ("FloatStorage" -> kFloat), or false when
// `name` is not a storage class we read.
bool storage_dtype(const std::string& name, c10::ScalarType* dtype);

}  // namespace ptinfer::checkpoint
