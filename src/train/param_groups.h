// Which parameters train, and with how much weight decay, as the guide's sample groups them:
//
//   optimizer = torch.optim.SGD([
//       {'params': [p for n, p in model.named_parameters() if n[-4:] == 'bias'], 'weight_decay': 0.0},
//       {'params': [p for n, p in model.named_parameters() if n[-4:] != 'bias'],
//        'weight_decay': args.weight_decay}], args.lr)
//
// i.e. every parameter whose name ends in "bias" gets no decay, everything else (conv, fc and
// BatchNorm weights) gets --wd. `no_decay_batch_norm` also moves BatchNorm weights into the
// no-decay group (a common fine-tuning choice, not the guide's).
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace ptinfer::train {

struct NamedParameter {
  std::string name;  // state-dict name, e.g. "layer1.0.bn1.weight"
  torch::Tensor param;
};

struct ParameterGroups {
  std::vector<NamedParameter> no_decay;  // the guide's first group (weight_decay 0)
  std::vector<NamedParameter> decay;     // the guide's second group (weight_decay --wd)
};

struct GroupingOptions {
  // Only parameters whose name starts with this prefix train (e.g. "fc." for --head-only);
  // "" trains all of them.
  std::string trainable_prefix;
  bool no_decay_batch_norm = false;
};

// Splits `model`'s parameters, in named_parameters() order (= PyTorch's), into the two groups.
// Sets requires_grad to true on the trainable parameters and false on the others (frozen
// parameters are in neither group). Throws Error(kInvalidArgument) when no parameter matches
// trainable_prefix.
ParameterGroups group_parameters(torch::nn::Module& model, const GroupingOptions& options);

}  // namespace ptinfer::train
