// `ptinfer finetune`: fine-tune a checkpoint on an ImageFolder with the guide's SGD parameter
// groups (no weight decay on biases), momentum, any amp policy and loss scaling, and write a
// checkpoint in the guide's format (train_checkpoint.h).
//
// One epoch: the folder's samples (shuffled with seed + epoch unless shuffle is off) are loaded
// by the BatchLoader with the eval transform (Resize + CenterCrop + ToTensor + Normalize, bit-exact
// with torchvision), optionally flipped horizontally (augment_flip, per sample with probability
// 1/2 drawn from std::mt19937_64(seed + epoch)), then per batch:
//   forward (O1: under autocast; O2/O3: input cast to the low dtype) -> fp32 logits ->
//   cross_entropy (mean) -> backward of loss * scale -> gradients copied to fp32 masters (O2/O3)
//   -> unscale, inf/NaN check -> SGD step or skip -> scale update -> masters cast back.
// The whole network trains in train() mode (BatchNorm uses batch statistics and updates its
// running statistics); head_only trains the head (fc.*) alone with the rest frozen and in eval()
// mode (BatchNorm keeps its running statistics).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "amp/loss_scaler.h"
#include "data/preprocess.h"
#include "engine/engine.h"

namespace ptinfer::train {

struct FinetuneOptions {
  std::string data;              // --data: DIR/train when it exists, else DIR
  engine::EngineOptions model;   // arch, checkpoint (--resume), pretrained, device, amp
  data::PreprocessOptions preprocess;
  // Whether the crop and resize sizes were given explicitly: an input size the weights fix
  // replaces them otherwise (data::fit_input_size); an explicit crop that differs is an error.
  bool crop_size_given = false;
  bool resize_size_given = false;
  bool augment_flip = false;     // --augment flip
  bool shuffle = true;           // false: the folder's order every epoch (parity tests)
  uint64_t seed = 0;             // shuffle, flip and a reset head's initialisation
  int epochs = 1;
  int batch_size = 32;
  int workers = 2;
  bool task_queue = true;
  int print_freq = 10;           // progress line every N batches (and the last); 0: never
  double lr = 0.1;               // the guide's defaults
  double momentum = 0.9;
  double weight_decay = 1e-4;
  bool nesterov = false;
  bool head_only = false;
  bool no_decay_batch_norm = false;
  bool reset_head = false;       // new head with one output per class folder (seeded init)
  std::optional<amp::LossScalerOptions> loss_scale;  // none: Apex's default for the opt level
  std::string output = "checkpoint.pth.tar";
  // Also write 'optimizer' (torch.optim.SGD.state_dict(), for resuming with momentum). Off by
  // default: its float hyper-parameters are pickled as BINFLOAT, which torch 1.13's
  // torch.load(weights_only=True) does not accept (torch >= 2.0 does; the same holds for a file
  // Python's torch.save writes with an optimizer state).
  bool save_optimizer = false;
};

struct FinetuneResult {
  int64_t epoch = 0;          // the epoch number written to the checkpoint
  int64_t steps = 0;          // optimizer steps taken
  int64_t skipped_steps = 0;  // overflowing steps the loss scaler skipped
  double loss_scale = 1;      // the scale after the last step
  double last_loss = 0;       // mean loss of the last epoch
  double last_acc1 = 0;       // training top-1 (percent) of the last epoch
  double images_per_second = 0;
  std::vector<std::string> trained;  // names of the parameters that trained
};

// Apex's default loss scale for an opt level: dynamic for O1 and O2, a static 1 for O0 and O3.
amp::LossScalerOptions default_loss_scale(amp::OptLevel level);

// Runs the fine-tuning, printing progress to `out`, and writes options.output after every epoch
// (atomically). Throws ptinfer::Error: kInvalidArgument for bad options (naming the flag), an
// unwritable output (checked before training), a folder with more classes than the head (unless
// reset_head); the data, checkpoint and model errors of the layers below.
FinetuneResult run_finetune(const FinetuneOptions& options, std::ostream& out);

// The folder finetune reads: DIR/train when it is a directory, else DIR.
std::string training_root(const std::string& data);

}  // namespace ptinfer::train
