// The checkpoint finetune writes, in the guide's training-loop format:
//   {'epoch': int, 'arch': str, 'state_dict': OrderedDict[str, Tensor], 'best_acc1': 0-d Tensor,
//    'optimizer': torch.optim.SGD.state_dict() (only with finetune --save-optimizer)}
// so that Python's torch.load, the guide's resume code (model.load_state_dict(
// checkpoint['state_dict']); optimizer.load_state_dict(...)) and `ptinfer validate --resume`
// read it. Without 'optimizer' the pickle holds no float, and torch 1.13's
// torch.load(weights_only=True) reads it too (its safe unpickler lacks the BINFLOAT opcode).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "checkpoint/checkpoint.h"
#include "checkpoint/torch_save.h"

namespace ptinfer::train {

// The model's parameters and buffers in PyTorch's state_dict() order (each module's own
// parameters, then its buffers, modules in pre-order), names without any prefix. Floating
// tensors are returned as fp32 copies (low-precision O2/O3 weights are widened; use
// `overrides` to substitute fp32 master weights by parameter identity), others as they are.
checkpoint::StateDict model_state_dict(
    torch::nn::Module& model,
    const std::vector<std::pair<torch::Tensor, torch::Tensor>>& overrides = {});

// What PyTorch's state_dict() records in its _metadata for `model` of architecture `arch`: the
// root ("") and every submodule by name, in named_modules() order, with its _version
// (models::module_version). torchvision's MNASNet refuses a state dict without its version.
std::vector<std::pair<std::string, int64_t>> module_versions(const torch::nn::Module& model,
                                                             const std::string& arch);

// torch.optim.SGD(...).state_dict() for `optimizer`, whose groups were built from parameters
// numbered 0.. across groups in order (PyTorch's numbering): 'state' maps a number to
// {'momentum_buffer': tensor} for every parameter that has one, 'param_groups' lists each
// group's hyper-parameters (lr, momentum, dampening, weight_decay, nesterov, maximize, foreach,
// differentiable, as torch 1.13 records them) and its parameter numbers.
checkpoint::PyValue sgd_state_dict(torch::optim::SGD& optimizer);

struct GuideCheckpoint {
  int64_t epoch = 0;
  std::string arch;
  checkpoint::StateDict state_dict;
  // state_dict._metadata: every module's name ("" for the root) and _version, as
  // module_versions gives them; empty: no _metadata.
  std::vector<std::pair<std::string, int64_t>> module_versions;
  double best_acc1 = 0;
  checkpoint::PyValue optimizer;  // None: the key is left out
};

// The dict above.
checkpoint::PyValue guide_checkpoint(const GuideCheckpoint& c);

}  // namespace ptinfer::train
