// TorchScript archives (torch.jit.save, scripted or traced) run through LibTorch's
// torch::jit::load, so a model of any architecture runs without a native definition
// (`--arch torchscript`).
//
// Trust: unlike the checkpoint reader (which reads a TorchScript archive's weights as data and
// runs nothing), loading compiles the archive's own TorchScript code and runs it: its forward on
// every batch, and any __setstate__ while loading. TorchScript is not Python (no imports, no
// os.system), but it can call any operator registered in the process, file-reading ones
// included. That is the trust torch.jit.load asks for, so ptinfer runs an archive only when the
// user names it with --arch torchscript; with any other --arch it is read as weights only.
#pragma once

#include <torch/script.h>

#include <memory>
#include <string>

#include "engine/model.h"

namespace ptinfer::engine {

// Loads the TorchScript archive at `path` onto `device`, in eval mode. Throws
// Error(kInvalidArgument) when `path` is another kind of checkpoint (naming its format and
// --arch), Error(kNotFound) for a missing file, Error(kCorruptData) naming the file with
// LibTorch's reason when torch::jit::load fails (broken archive, code that does not compile).
// The model's forward throws Error(kUnsupported) when the module's forward fails or returns
// something other than a tensor.
std::unique_ptr<Model> load_torchscript(const std::string& path, const torch::Device& device);

// The archive's module itself, on `device` in eval mode, with the same checks and errors as
// load_torchscript (for the fast path, which runs it through its general graph).
torch::jit::Module load_torchscript_module(const std::string& path, const torch::Device& device);

// True for the TorchScript type names of BatchNorm modules (torch.nn's BatchNorm1d/2d/3d,
// SyncBatchNorm, torchvision's FrozenBatchNorm2d, with or without TorchScript's name mangling),
// the modules the O2 policy keeps in fp32.
bool is_script_batch_norm_type(const std::string& qualified_name);

}  // namespace ptinfer::engine
