// Flags shared by the subcommands (model, device, preprocessing), added to a CLI11 app and
// turned into the option structs after parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "engine/engine.h"
#include "runtime/env_config.h"

namespace ptinfer::cli {

struct CommonFlags {
  std::string arch = "resnet50";
  std::string resume;
  std::string checkpoint_key;
  bool pretrained = false;
  std::string device;
  std::optional<int> npu;
  int64_t num_classes = 0;
  int resize_size = 256;
  int crop_size = 224;
  std::string interpolation = "bilinear";  // --interpolation: Resize's filter, bilinear|bicubic
  std::vector<float> mean = {0.485f, 0.456f, 0.406f};
  std::vector<float> std = {0.229f, 0.224f, 0.225f};
  std::optional<int> threads;
  std::string amp = "O0";         // --amp: precision policy O0..O3 (amp/policy.h)
  std::string amp_dtype = "bf16";  // --amp-dtype: low precision of O1..O3
  bool no_fast_path = false;       // --no-fast-path: run the plain eager module (the reference)
};

// Registers -a/--arch, --resume, --checkpoint-key, --pretrained, --device, --npu, --num-classes,
// --resize-size, --crop-size, --interpolation, --mean, --std, --threads, --amp, --amp-dtype,
// --no-fast-path on `app`, writing into `flags`.
void add_common_flags(CLI::App& app, CommonFlags& flags);

// The Engine options after parsing, with the device resolved from the flags and the runtime
// configuration (device.h). Also sets LibTorch's intra-op threads when --threads is given (the
// flag wins over PTINFER_NUM_THREADS / OMP_NUM_THREADS). Throws Error for an unknown device, and Error(kInvalidArgument)
// naming --amp / --amp-dtype for a value outside O0..O3 / bf16, fp16.
engine::EngineOptions engine_options(const CommonFlags& flags,
                                     const runtime::RuntimeConfig& config);

// The preprocessing options; throws Error(kInvalidArgument) naming the flag when --mean/--std
// do not have 3 values, a std is not > 0, a size is not > 0, or --interpolation is not
// bilinear or bicubic.
data::PreprocessOptions preprocess_options(const CommonFlags& flags);

// Prints "ERROR: Unknown command line arg: X" to stdout for each unparsed argument of `app`
// (as the guide's sample does) and returns true when there was any.
bool report_unknown_args(const CLI::App& app);

}  // namespace ptinfer::cli
