// Checkpoints that PyTorch wrote, read without running anything from the file.
// Reads the zip format torch.save writes since PyTorch 1.6, the legacy format before it (see
// pickle_reader.h for the allow-list of globals) and safetensors (a bare state dict). A checkpoint
// is a bare state dict or a dict holding one under a key: by default the first present (and not
// None) of "state_dict_ema", "model_ema", "state_dict", "model", as timm's load_state_dict picks;
// DataParallel/DDP "module." and torch.compile "_orig_mod." prefixes are removed.
#pragma once

#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ptinfer::checkpoint {

// Parameter/buffer name -> tensor, in the order the file stores them.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

struct LoadOptions {
  // The top-level key holding the state dict; empty: the default order above.
  std::string checkpoint_key;
};

struct Checkpoint {
  std::string format;                       // "zip", "legacy" or "safetensors"
  std::string state_dict_key;               // where the state dict was; empty for a bare state dict
  std::vector<std::string> top_level_keys;  // string keys of the top-level dict, in order
  std::vector<std::string> stripped_prefixes;  // e.g. {"module."}, in the order removed
  StateDict state_dict;                        // "module." / "_orig_mod." prefixes already removed
  std::optional<int64_t> epoch;                // the guide's training loop saves these
  std::optional<std::string> arch;
  std::optional<double> best_acc1;      // a 0-d tensor or a number in the file
  std::vector<std::string> classes;     // ImageFolder class names, when recorded ("classes")
  std::vector<std::string> other_keys;  // top-level keys not interpreted (optimizer, ...)
};

// Reads `path`. Throws ptinfer::Error: kNotFound (no such file), kCorruptData (not a
// checkpoint / truncated / bad pickle / missing or oversized storage, naming the record),
// kUnsupported (a global outside the allow-list, named in the message; no state dict found),
// kInvalidArgument (options.checkpoint_key absent or not a dict of tensors; the message lists
// the top-level keys).
Checkpoint load_checkpoint(const std::string& path, const LoadOptions& options = {});

// Copies `state_dict` into `module`'s parameters and buffers, casting each tensor to the
// destination's dtype and device. Strict: every missing, unexpected and mis-shaped key is listed
// together in one Error(kInvalidArgument) and nothing is copied when any is found.
void load_state_dict_strict(torch::nn::Module& module, const StateDict& state_dict);

}  // namespace ptinfer::checkpoint
