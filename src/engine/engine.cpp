#include "engine/engine.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

#include "amp/autocast.h"
#include "amp/model_policy.h"
#include "checkpoint/checkpoint.h"
#include "common/error.h"
#include "engine/cpu_setup.h"
#include "engine/torchscript_model.h"
// PTINFER_WITHOUT_FASTPATH: builds that have no oneDNN headers (tools/device/amp_cuda_check.sh,
// against pip's LibTorch) leave the fast path out; the Engine then always runs the plain module.
#ifndef PTINFER_WITHOUT_FASTPATH
#include "fastpath/fast_path.h"
#include "fastpath/script_classifier.h"
#endif
#include "models/registry.h"

namespace ptinfer::engine {
namespace {

// num_classes from the head weight's first dimension, when the state dict has the head.
std::optional<int64_t> head_classes(const checkpoint::StateDict& sd, const std::string& key) {
  for (const auto& [name, tensor] : sd) {
    if (name == key && tensor.dim() >= 1) return tensor.size(0);
  }
  return std::nullopt;
}

}  // namespace

std::string pretrained_weights_path(const std::string& arch) {
  std::string file = models::pretrained_file_name(arch);
  std::string torch_home;
  if (const char* th = std::getenv("TORCH_HOME"); th && *th) {
    torch_home = th;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    torch_home = std::string(xdg) + "/torch";
  } else {
    const char* home = std::getenv("HOME");
    torch_home = std::string(home ? home : ".") + "/.cache/torch";
  }
  return torch_home + "/hub/checkpoints/" + file;
}

Engine::Engine(const EngineOptions& options) : device_(options.device), amp_(options.amp) {
  amp::check_supported(amp_, device_);  // before the (slow) checkpoint read
  info_.arch = options.arch;
  if (options.arch == kTorchScriptArch) {
    init_torchscript(options);
    return;
  }
  std::optional<checkpoint::Checkpoint> pretrained, resumed;
  if (options.pretrained) {
    std::string path = pretrained_weights_path(options.arch);
    if (!std::filesystem::exists(path)) {
      throw Error(ErrorKind::kNotFound,
                  "--pretrained: torchvision's weights for " + options.arch + " are not at " +
                      path + "; ptinfer does not download: copy the file " +
                      models::pretrained_file_name(options.arch) + " there (torchvision.models." +
                      options.arch +
                      "(weights='DEFAULT') saves it to that cache), or set TORCH_HOME");
    }
    pretrained = checkpoint::load_checkpoint(path);
    info_.weights = path;
  }
  if (!options.checkpoint.empty()) {
    checkpoint::LoadOptions load_options;
    load_options.checkpoint_key = options.checkpoint_key;
    resumed = checkpoint::load_checkpoint(options.checkpoint, load_options);
    info_.weights = options.checkpoint;
    info_.class_names = resumed->classes;
    info_.epoch = resumed->epoch;
    info_.best_acc1 = resumed->best_acc1;
    if (resumed->arch && *resumed->arch != options.arch) {
      spdlog::warn("checkpoint {} was saved for arch '{}' but --arch is '{}'", options.checkpoint,
                   *resumed->arch, options.arch);
    }
  }

  // Keys older torchvision releases wrote, under today's names (as torchvision loads them).
  if (pretrained) models::rename_legacy_keys(options.arch, pretrained->state_dict);
  if (resumed) models::rename_legacy_keys(options.arch, resumed->state_dict);
  std::string head = models::head_weight_key(options.arch);
  int64_t num_classes = options.num_classes;
  if (num_classes == 0 && resumed)
    num_classes = head_classes(resumed->state_dict, head).value_or(0);
  if (num_classes == 0) num_classes = 1000;
  info_.num_classes = num_classes;

  // Every parameter and buffer is overwritten by the strict load that follows, if one does.
  models::ModelConfig config;
  config.num_classes = num_classes;
  config.init = pretrained || resumed ? models::Init::kSkip : models::Init::kTorchvision;
  config.pretrained = options.pretrained;  // torchvision's builder with weights=DEFAULT
  // A checkpoint whose shapes fix the input size (a ViT trained at 384 or 518) builds the model
  // for that size, said here, rather than failing the load on the positional embedding.
  if (const auto& size_of = models::arch_spec(options.arch).image_size_of) {
    const auto* sd = resumed ? &resumed->state_dict : pretrained ? &pretrained->state_dict : nullptr;
    if (sd != nullptr) config.image_size = size_of(*sd);
    if (config.image_size > 0) {
      spdlog::info("engine: {} fixes the input size of {} to {}x{}; the crop must match "
                   "(--crop-size {})",
                   info_.weights, options.arch, config.image_size, config.image_size,
                   config.image_size);
      info_.input_size = config.image_size;
    }
  }
  auto native = models::create_model(options.arch, config);
  if (pretrained && !resumed) checkpoint::load_state_dict_strict(*native, pretrained->state_dict);
  if (resumed) {
    try {
      checkpoint::load_state_dict_strict(*native, resumed->state_dict);
    } catch (const Error& e) {
      if (resumed->format != "torchscript") throw;
      throw Error(e.kind(), std::string(e.what()) + "\n" + options.checkpoint +
                                " is a TorchScript archive (" + resumed->script_class +
                                "); --arch torchscript runs it as saved, executing its "
                                "TorchScript code (the trust torch.jit.load asks for)");
    }
  }
  // The module holds its own copy now: the checkpoint's tensors (a map of the file) go before
  // the fast path folds the module, so the two do not add up in the peak memory.
  const bool loaded = pretrained || resumed;
  pretrained.reset();
  resumed.reset();
  if (!loaded) info_.weights = "random init";
  if (!info_.class_names.empty() && static_cast<int64_t>(info_.class_names.size()) != num_classes) {
    spdlog::warn("checkpoint records {} class names for a {}-class head; ignoring the names",
                 info_.class_names.size(), num_classes);
    info_.class_names.clear();
  }
#ifndef PTINFER_WITHOUT_FASTPATH
  if (options.fast_path) {  // fastpath/fast_path.h: replaces the module when it has a fast form
    native->eval();
    fastpath::FastPathOptions fast{fastpath::kernels_from_env(), amp_, device_,
                                   fastpath::winograd_from_env(), fastpath::max_batch_from_env()};
    const std::string form = fastpath::fast_path_form(*native, fast);
    if (auto fast_model = fastpath::build(native, fast)) {
      spdlog::info("engine: fast path: {}", form);
      native = std::move(fast_model);
    } else {
      spdlog::info("engine: no fast path: {}", fastpath::unsupported_reason(*native, fast));
    }
  }
#endif
  model_ = wrap_native(std::move(native));
  model_->to_device_eval(device_);
  model_->apply_policy(amp_);
  // With the ResNet runner the eager module and its weights are garbage now (the general graph
  // keeps the module, to trace the shapes it has not seen).
  release_free_memory();
  spdlog::info("engine: {} ({} classes) on {} from {}, amp {} ({})", options.arch, num_classes,
               device_.str(), info_.weights, amp::to_string(amp_.level),
               amp::to_string(amp_.dtype));
}

void Engine::init_torchscript(const EngineOptions& options) {
  if (options.checkpoint.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "--arch torchscript needs --resume FILE, a torch.jit.save archive");
  }
  if (options.pretrained) {
    throw Error(
        ErrorKind::kInvalidArgument,
        "--pretrained does not apply to --arch torchscript (the archive holds the weights)");
  }
  if (!options.checkpoint_key.empty()) {
    throw Error(ErrorKind::kInvalidArgument,
                "--checkpoint-key does not apply to --arch torchscript (the archive holds one "
                "module)");
  }
#ifndef PTINFER_WITHOUT_FASTPATH
  // The fast path's general graph, as for a registry model: the archive's forward traced
  // through the TorchScript interpreter per input shape (fastpath/script_classifier.h); the
  // graph applies the policy itself, on the archive's fp32 weights.
  if (options.fast_path) {
    fastpath::FastPathOptions fast{fastpath::Kernels::kGraph, amp_, device_};
    auto script = fastpath::script_classifier(load_torchscript_module(options.checkpoint, device_),
                                              options.checkpoint);
    const std::string gap = fastpath::unsupported_reason(*script, fast);
    if (auto fast_model = fastpath::build(std::move(script), fast)) {
      spdlog::info("engine: fast path: graph (the TorchScript forward traced per input shape)");
      model_ = wrap_native(std::move(fast_model));
    } else {
      spdlog::info("engine: no fast path: {}", gap);
    }
  }
#endif
  if (!model_) {
    model_ = load_torchscript(options.checkpoint, device_);
    model_->apply_policy(amp_);
  }
  info_.weights = options.checkpoint;
  torch::Tensor probe = run(torch::zeros({1, 3, options.input_size, options.input_size}));
  if (probe.dim() != 2 || probe.size(0) != 1) {
    std::string shape;
    for (int64_t d : probe.sizes()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw Error(ErrorKind::kUnsupported, options.checkpoint + ": the TorchScript model returns [" +
                                             shape + "] for a [1, 3, " +
                                             std::to_string(options.input_size) + ", " +
                                             std::to_string(options.input_size) +
                                             "] input, expected [1, num_classes] logits");
  }
  info_.num_classes = probe.size(1);
  if (options.num_classes != 0 && options.num_classes != info_.num_classes) {
    throw Error(ErrorKind::kInvalidArgument,
                "--num-classes " + std::to_string(options.num_classes) +
                    " but the TorchScript model " + options.checkpoint + " has " +
                    std::to_string(info_.num_classes) + " outputs");
  }
  spdlog::info("engine: TorchScript {} ({} classes) on {}, amp {} ({})", options.checkpoint,
               info_.num_classes, device_.str(), amp::to_string(amp_.level),
               amp::to_string(amp_.dtype));
}

torch::Tensor Engine::run(const torch::Tensor& batch) {
  c10::InferenceMode guard;
  amp::AutocastGuard autocast(amp_, device_);
  torch::Tensor input = batch.to(device_, amp::input_dtype(amp_));
  torch::Tensor logits = model_->forward(input);
  return logits.to(torch::kCPU, torch::kFloat32);
}

}  // namespace ptinfer::engine
