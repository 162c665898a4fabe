// Flags shared by the subcommands (model, device, preprocessing), added to a CLI11 app and
// turned into the option structs after parsing.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "app/preprocessing.h"
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
  // --preprocessing guide|model: the base of the preprocessing (app/preprocessing.h); the five
  // flags below, when given, replace its fields one by one.
  std::string preprocessing = "guide";
  std::optional<int> resize_size;             // --resize-size (guide: 256)
  std::optional<int> crop_size;               // --crop-size (guide: 224)
  std::optional<std::string> interpolation;   // --interpolation bilinear|bicubic (guide: bilinear)
  std::vector<float> mean;                    // --mean, 3 values; empty: not given
  std::vector<float> std;                     // --std, 3 values; empty: not given
  std::optional<int> threads;
  std::string amp = "O0";         // --amp: precision policy O0..O3 (amp/policy.h)
  std::string amp_dtype = "bf16";  // --amp-dtype: low precision of O1..O3
  bool no_fast_path = false;       // --no-fast-path: run the plain eager module (the reference)
};

// Registers -a/--arch, --resume, --checkpoint-key, --pretrained, --device, --npu, --num-classes,
// --preprocessing, --resize-size, --crop-size, --interpolation, --mean, --std, --threads, --amp,
// --amp-dtype, --no-fast-path on `app`, writing into `flags`.
void add_common_flags(CLI::App& app, CommonFlags& flags);

// The Engine options after parsing, with the device resolved from the flags and the runtime
// configuration (device.h); input_size is left at its default (the commands set it to their
// crop). Also sets LibTorch's intra-op threads when --threads is given (the flag wins over
// PTINFER_NUM_THREADS / OMP_NUM_THREADS). Throws Error for an unknown device, and
// Error(kInvalidArgument) naming --amp / --amp-dtype for a value outside O0..O3 / bf16, fp16.
engine::EngineOptions engine_options(const CommonFlags& flags,
                                     const runtime::RuntimeConfig& config);

// The --preprocessing base and the explicit preprocessing flags. Throws Error(kInvalidArgument)
// naming the flag when --preprocessing is not guide or model, --mean/--std do not have 3 values,
// a std is not > 0, --resize-size is < 0, --crop-size < 1, or --interpolation is not bilinear or
// bicubic.
app::PreprocessingChoice preprocessing_choice(const CommonFlags& flags);

// What runs for -a: app::resolve_preprocessing of preprocessing_choice(flags) (which see for
// --preprocessing model with --arch torchscript).
data::PreprocessOptions preprocess_options(const CommonFlags& flags);

// Prints "ERROR: Unknown command line arg: X" to stdout for each unparsed argument of `app`
// (as the guide's sample does) and returns true when there was any.
bool report_unknown_args(const CLI::App& app);

}  // namespace ptinfer::cli
