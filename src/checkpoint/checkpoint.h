// Checkpoints that PyTorch wrote, read without running anything from the file.
// Reads the zip format torch.save writes since PyTorch 1.6 (see pickle_reader.h for the
// allow-list of globals). A checkpoint is a bare state dict or a dict holding one under
// "state_dict" or "model"; DataParallel/DDP "module." prefixes are removed.
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

struct Checkpoint {
  StateDict state_dict;          // "module." prefixes already removed
  std::optional<int64_t> epoch;  // the guide's training loop saves these
  std::optional<std::string> arch;
  std::optional<double> best_acc1;      // a 0-d tensor or a number in the file
  std::vector<std::string> classes;     // ImageFolder class names, when recorded ("classes")
  std::vector<std::string> other_keys;  // top-level keys not interpreted (optimizer, ...)
};

// Reads `path`. Throws ptinfer::Error: kNotFound (no such file), kCorruptData (not a zip /
// truncated / bad pickle / missing storage record, naming the record), kUnsupported (a global
// outside the allow-list, named in the message; legacy non-zip format).
Checkpoint load_checkpoint(const std::string& path);

// Copies `state_dict` into `module`'s parameters and buffers, casting each tensor to the
// destination's dtype and device. Strict: every missing, unexpected and mis-shaped key is listed
// together in one Error(kInvalidArgument) and nothing is copied when any is found.
void load_state_dict_strict(torch::nn::Module& module, const StateDict& state_dict);

}  // namespace ptinfer::checkpoint
