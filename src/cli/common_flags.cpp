#include "cli/common_flags.h"

#include <iostream>

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "engine/cpu_setup.h"
#include "engine/device.h"

namespace ptinfer::cli {

void add_common_flags(CLI::App& app, CommonFlags& f) {
  app.add_option("-a,--arch", f.arch, "model architecture (torchvision name), or torchscript to run a torch.jit.save "
                 "archive as saved (runs its TorchScript code: only for archives you trust)")
      ->capture_default_str();
  app.add_option("--resume", f.resume, "checkpoint to load (torch.save file: .pth, .pth.tar; .safetensors; a "
                 "torch.jit.save archive)");
  app.add_option("--checkpoint-key", f.checkpoint_key,
                 "key holding the weights (default: state_dict_ema, model_ema, state_dict, model, "
                 "else the whole file, as timm picks)");
  app.add_flag("--pretrained", f.pretrained, "load torchvision's weights from the torch hub cache");
  app.add_option("--device", f.device,
                 "cpu, cuda or cuda:N (default: cuda:PTINFER_DEVICE_ID when present, else cpu)");
  app.add_option("--npu", f.npu, "accelerator index, as the guide's --npu");
  app.add_option("--num-classes", f.num_classes,
                 "classes of the head (default: from the checkpoint, else 1000)");
  app.add_option("--preprocessing", f.preprocessing,
                 "guide: Resize(256) + CenterCrop(224), bilinear, ImageNet mean/std (the guide's, "
                 "for every -a); model: what the architecture's torchvision DEFAULT weights "
                 "declare (ptinfer models lists them); the five flags below replace single "
                 "fields of either")
      ->capture_default_str();
  app.add_option("--resize-size", f.resize_size,
                 "Resize: shorter side in pixels, 0: none (default: from --preprocessing; guide "
                 "256)");
  app.add_option("--crop-size", f.crop_size,
                 "CenterCrop size in pixels (default: from --preprocessing; guide 224)");
  app.add_option("--interpolation", f.interpolation,
                 "Resize's filter, as torchvision's InterpolationMode on PIL images: bilinear or "
                 "bicubic (default: from --preprocessing; guide bilinear)");
  app.add_option("--mean", f.mean, "Normalize mean, 3 values (default: from --preprocessing)")
      ->expected(3);
  app.add_option("--std", f.std, "Normalize std, 3 values (default: from --preprocessing)")
      ->expected(3);
  app.add_option(
      "--threads", f.threads,
      "intra-op threads (default: PTINFER_NUM_THREADS, OMP_NUM_THREADS, else the usable cores)");
  app.add_option("--amp", f.amp,
                 "mixed precision (Apex opt level): O0 fp32, O1 autocast (conv/linear low, "
                 "BN/softmax fp32), O2 low-precision weights except BatchNorm, O3 all low")
      ->capture_default_str();
  app.add_option("--amp-dtype", f.amp_dtype, "low precision of --amp O1..O3: bf16 or fp16 (CUDA)")
      ->capture_default_str();
  app.add_flag("--no-fast-path", f.no_fast_path,
               "run the plain eager module instead of the folded, fused fast path (the reference)");
}

engine::EngineOptions engine_options(const CommonFlags& f, const runtime::RuntimeConfig& config) {
  engine::EngineOptions o;
  o.arch = f.arch;
  o.checkpoint = f.resume;
  o.checkpoint_key = f.checkpoint_key;
  if (f.threads) {
    if (*f.threads < 1) {
      throw Error(ErrorKind::kInvalidArgument,
                  "--threads must be >= 1, got " + std::to_string(*f.threads));
    }
    spdlog::info("--threads: {} intra-op threads", engine::configure_threads(f.threads));
  }
  o.pretrained = f.pretrained;
  o.num_classes = f.num_classes;
  if (f.num_classes < 0) {
    throw Error(ErrorKind::kInvalidArgument, "--num-classes must be >= 1");
  }
  o.device = engine::resolve_device({f.device, f.npu, config.device_id});
  o.amp.level = amp::parse_opt_level(f.amp, "--amp");
  o.amp.dtype = amp::parse_low_dtype(f.amp_dtype, "--amp-dtype");
  o.fast_path = !f.no_fast_path;
  return o;
}

app::PreprocessingChoice preprocessing_choice(const CommonFlags& f) {
  app::PreprocessingChoice choice;
  choice.base = app::parse_preprocessing_base(f.preprocessing, "--preprocessing");
  app::PreprocessingOverrides& o = choice.overrides;
  if (f.resize_size) {
    if (*f.resize_size < 0)
      throw Error(ErrorKind::kInvalidArgument, "--resize-size must be >= 0 (0: no resize)");
    o.resize_size = *f.resize_size;
  }
  if (f.crop_size) {
    if (*f.crop_size < 1) throw Error(ErrorKind::kInvalidArgument, "--crop-size must be >= 1");
    o.crop_size = *f.crop_size;
  }
  if (f.interpolation) {
    o.interpolation = data::parse_interpolation(*f.interpolation, "--interpolation");
  }
  if (!f.mean.empty()) {
    if (f.mean.size() != 3) throw Error(ErrorKind::kInvalidArgument, "--mean needs 3 values");
    o.mean = std::array<float, 3>{f.mean[0], f.mean[1], f.mean[2]};
  }
  if (!f.std.empty()) {
    if (f.std.size() != 3) throw Error(ErrorKind::kInvalidArgument, "--std needs 3 values");
    for (float s : f.std) {
      if (!(s > 0)) {
        throw Error(ErrorKind::kInvalidArgument,
                    "--std values must be > 0, got " + std::to_string(s));
      }
    }
    o.std = std::array<float, 3>{f.std[0], f.std[1], f.std[2]};
  }
  return choice;
}

data::PreprocessOptions preprocess_options(const CommonFlags& f) {
  return app::resolve_preprocessing(preprocessing_choice(f), f.arch, "--preprocessing");
}

bool report_unknown_args(const CLI::App& app) {
  std::vector<std::string> extras = app.remaining();
  for (const auto& arg : extras) std::cout << "ERROR: Unknown command line arg: " << arg << "\n";
  std::cout.flush();
  return !extras.empty();
}

}  // namespace ptinfer::cli
