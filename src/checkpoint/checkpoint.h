// Checkpoints that PyTorch wrote, read without running anything from the file.
// Reads the zip format torch.save writes since PyTorch 1.6, the legacy format before it (see
// pickle_reader.h for the allow-list of globals) and safetensors (a bare state dict). A checkpoint
// is a bare state dict or a dict holding one under a key: by default the first present (and not
// None) of "state_dict_ema", "model_ema", "state_dict", "model", as timm's load_state_dict picks;
// DataParallel/DDP "module." and torch.compile "_orig_mod." prefixes are removed. torchvision's
// reference scripts' layout ({"model", "optimizer", "lr_scheduler", "epoch", "args"[,
// "model_ema"]}) reads the same way: the EMA model's AveragedModel counter "n_averaged" is left
// out, and args.model names the architecture when no "arch" key does.
// TorchScript archives (torch.jit.save) are read as data too: their data.pkl gives the module
// tree, whose tensor attributes (parameters and buffers) form the state dict; none of the
// archive's code is compiled or run here (running it is engine/torchscript_model.h's job).
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

// One loss scaler of Apex's amp.state_dict(), saved under "amp" by Apex O1/O2 training scripts:
// {"loss_scaler0": {"loss_scale": 1024.0, "unskipped": 0}, ...}.
struct AmpLossScaler {
  std::string name;  // "loss_scaler0"
  std::optional<double> loss_scale;
  std::optional<int64_t> unskipped;
};

struct Checkpoint {
  std::string format;  // "zip", "legacy", "safetensors" or "torchscript"
  std::string state_dict_key;               // where the state dict was; empty for a bare state dict
  std::vector<std::string> top_level_keys;  // string keys of the top-level dict, in order
  std::vector<std::string> stripped_prefixes;  // e.g. {"module."}, in the order removed
  StateDict state_dict;                        // "module." / "_orig_mod." prefixes already removed
  std::optional<int64_t> epoch;                // the guide's training loop saves these
  std::optional<std::string> arch;
  std::optional<double> best_acc1;      // a 0-d tensor or a number in the file
  std::vector<std::string> classes;     // ImageFolder class names, when recorded ("classes")
  std::vector<std::string> other_keys;  // top-level keys not interpreted (optimizer, ...)
  std::vector<AmpLossScaler> amp;       // Apex's "amp" entry, when it has that shape
  // TorchScript: the root module's class without "__torch__." (e.g.
  // "torchvision.models.squeezenet.SqueezeNet"); top_level_keys are its attribute names.
  std::string script_class;
};

// "zip", "legacy", "safetensors" or "torchscript" from the file's first bytes (and, for zip
// files, its records), reading no tensor. Throws like load_checkpoint for missing, empty and
// unrecognised files.
std::string detect_format(const std::string& path);

// Reads `path`. Throws ptinfer::Error: kNotFound (no such file), kCorruptData (not a
// checkpoint / truncated / bad pickle / missing or oversized storage, naming the record),
// kUnsupported (a global outside the allow-list, named in the message; no state dict found),
// kInvalidArgument (options.checkpoint_key absent or not a dict of tensors; the message lists
// the top-level keys; options.checkpoint_key on a TorchScript archive).
Checkpoint load_checkpoint(const std::string& path, const LoadOptions& options = {});

// Copies `state_dict` into `module`'s parameters and buffers, casting each tensor to the
// destination's dtype and device. Strict: every missing, unexpected and mis-shaped key is listed
// together in one Error(kInvalidArgument) and nothing is copied when any is found.
void load_state_dict_strict(torch::nn::Module& module, const StateDict& state_dict);

}  // namespace ptinfer::checkpoint
