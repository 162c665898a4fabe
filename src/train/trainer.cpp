#include "train/trainer.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <random>

#include "amp/autocast.h"
#include "amp/model_policy.h"
#include "checkpoint/checkpoint.h"
#include "checkpoint/torch_save.h"
#include "common/error.h"
#include "data/batch_loader.h"
#include "data/image_folder.h"
#include "metrics/meters.h"
#include "models/registry.h"
#include "train/master_weights.h"
#include "train/param_groups.h"
#include "train/train_checkpoint.h"

namespace ptinfer::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void check_options(const FinetuneOptions& o) {
  auto bad = [](const std::string& m) { throw Error(ErrorKind::kInvalidArgument, m); };
  if (o.epochs < 1) bad("--epochs must be >= 1, got " + std::to_string(o.epochs));
  if (o.batch_size < 1) bad("-b/--batch_size must be >= 1, got " + std::to_string(o.batch_size));
  if (o.workers < 1) bad("-j/--workers must be >= 1, got " + std::to_string(o.workers));
  if (o.print_freq < 0) bad("--print-freq must be >= 0");
  if (!(o.lr > 0) || !std::isfinite(o.lr)) bad("--lr must be a finite number > 0");
  if (!(o.momentum >= 0) || !std::isfinite(o.momentum)) bad("--momentum must be >= 0");
  if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay)) bad("--wd must be >= 0");
  if (o.nesterov && o.momentum == 0) bad("--nesterov needs --momentum > 0");
  if (o.output.empty()) bad("--output must not be empty");
}

// Fails before any training when `path` cannot be written: creates and removes a temporary
// file beside it, as save_torch_file will.
void check_writable(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(ErrorKind::kInvalidArgument, "--output '" + path + "' is a directory");
  }
  std::string tmp = path + ".tmpXXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) {
    throw Error(ErrorKind::kInvalidArgument,
                "--output: cannot write '" + path + "': " + std::strerror(errno));
  }
  ::close(fd);
  std::remove(tmp.c_str());
}

std::optional<int64_t> head_classes(const checkpoint::StateDict& sd, const std::string& key) {
  for (const auto& [name, tensor] : sd) {
    if (name == key && tensor.dim() >= 1) return tensor.size(0);
  }
  return std::nullopt;
}

struct LoadedModel {
  std::shared_ptr<models::ImageClassifier> model;
  int64_t start_epoch = 0;
  double best_acc1 = 0;
  std::string weights = "random init";
  int64_t input_size = 0;  // the input size the weights fix (a ViT's positional embedding), or 0
};

LoadedModel load_model(const FinetuneOptions& o, int64_t folder_classes, std::ostream& out) {
  const engine::EngineOptions& m = o.model;
  LoadedModel loaded;
  std::optional<checkpoint::Checkpoint> source;
  if (!m.checkpoint.empty()) {
    out << "=> loading checkpoint '" << m.checkpoint << "'" << std::endl;
    checkpoint::LoadOptions load_options;
    load_options.checkpoint_key = m.checkpoint_key;
    source = checkpoint::load_checkpoint(m.checkpoint, load_options);
    loaded.weights = m.checkpoint;
    loaded.start_epoch = source->epoch.value_or(0);
    loaded.best_acc1 = source->best_acc1.value_or(0);
    if (source->arch && *source->arch != m.arch) {
      spdlog::warn("checkpoint {} was saved for arch '{}' but --arch is '{}'", m.checkpoint,
                   *source->arch, m.arch);
    }
  } else if (m.pretrained) {
    std::string path = engine::pretrained_weights_path(m.arch);
    if (!std::filesystem::exists(path)) {
      throw Error(ErrorKind::kNotFound, "--pretrained: torchvision's weights for " + m.arch +
                                            " are not at " + path + " (set TORCH_HOME)");
    }
    source = checkpoint::load_checkpoint(path);
    loaded.weights = path;
  }
  if (source) models::rename_legacy_keys(m.arch, source->state_dict);
  const std::string head_key = models::head_weight_key(m.arch);
  const std::string head_prefix = head_key.substr(0, head_key.size() - std::string("weight").size());
  int64_t num_classes = m.num_classes;
  if (num_classes == 0) {
    if (o.reset_head || !source) {
      num_classes = folder_classes;
    } else {
      num_classes = head_classes(source->state_dict, head_key).value_or(1000);
    }
  }
  torch::manual_seed(o.seed);  // a reset (or random) head is initialised reproducibly
  models::ModelConfig config;
  config.num_classes = num_classes;
  config.pretrained = m.pretrained;  // torchvision's builder with weights=DEFAULT
  // A checkpoint whose shapes fix the input size (a ViT trained at 384) builds the model for it.
  if (const auto& size_of = models::arch_spec(m.arch).image_size_of; size_of && source) {
    config.image_size = size_of(source->state_dict);
    loaded.input_size = config.image_size;
  }
  loaded.model = models::create_model(m.arch, config);
  if (source) {
    checkpoint::StateDict weights = source->state_dict;
    if (o.reset_head) {
      checkpoint::StateDict kept;
      for (auto& [name, t] : weights) {
        if (name.rfind(head_prefix, 0) != 0) kept.emplace_back(name, t);
      }
      for (const auto& item : loaded.model->named_parameters()) {
        if (item.key().rfind(head_prefix, 0) == 0) kept.emplace_back(item.key(), item.value().detach().clone());
      }
      weights = std::move(kept);
    }
    checkpoint::load_state_dict_strict(*loaded.model, weights);
  }
  if (folder_classes > num_classes) {
    throw Error(ErrorKind::kInvalidArgument,
                "--data has " + std::to_string(folder_classes) + " classes but the model has " +
                    std::to_string(num_classes) +
                    " outputs; pass --reset-head for a new head with one output per class");
  }
  out << "=> " << m.arch << " with " << num_classes << " outputs from " << loaded.weights
      << (o.reset_head ? " (new head)" : "") << std::endl;
  return loaded;
}

// Flips the CHW image at `p` left-right in place.
void hflip(float* p, int64_t size) {
  for (int64_t row = 0; row < 3 * size; ++row) {
    float* r = p + row * size;
    std::reverse(r, r + size);
  }
}

std::string format_scale(double scale) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", scale);
  return buf;
}

}  // namespace

std::string training_root(const std::string& data) {
  std::filesystem::path train = std::filesystem::path(data) / "train";
  std::error_code ec;
  return std::filesystem::is_directory(train, ec) ? train.string() : data;
}

amp::LossScalerOptions default_loss_scale(amp::OptLevel level) {
  amp::LossScalerOptions o;
  if (level == amp::OptLevel::kO0 || level == amp::OptLevel::kO3) {
    o.dynamic = false;
    o.init_scale = 1.0;
  }
  return o;
}

FinetuneResult run_finetune(const FinetuneOptions& options, std::ostream& out) {
  check_options(options);
  const torch::Device device(options.model.device);
  amp::check_supported(options.model.amp, device);
  amp::LossScaler scaler(options.loss_scale.value_or(default_loss_scale(options.model.amp.level)));
  check_writable(options.output);

  std::string root = training_root(options.data);
  data::ImageFolderIndex index = data::scan_image_folder(root);
  out << "=> " << index.samples.size() << " images in " << index.classes.size()
      << " classes under '" << root << "'" << std::endl;
  out << "use  " << device.str() << std::endl;
  out << "=> creating model '" << options.model.arch << "'" << std::endl;
  LoadedModel loaded = load_model(options, static_cast<int64_t>(index.classes.size()), out);
  models::ImageClassifier& model = *loaded.model;
  model.to(device);

  const std::string head_key = models::head_weight_key(options.model.arch);
  GroupingOptions grouping;
  grouping.trainable_prefix =
      options.head_only ? head_key.substr(0, head_key.size() - std::string("weight").size()) : "";
  grouping.no_decay_batch_norm = options.no_decay_batch_norm;
  // O2/O3 cast the weights to the low dtype (set_data: the tensors keep their identity). The
  // fp32 values are kept so that frozen parameters are saved unrounded.
  std::vector<std::pair<torch::Tensor, torch::Tensor>> fp32_originals;
  if (options.model.amp.level == amp::OptLevel::kO2 ||
      options.model.amp.level == amp::OptLevel::kO3) {
    for (const auto& p : model.parameters()) fp32_originals.emplace_back(p, p.detach().clone());
  }
  amp::apply_to_model(model, options.model.amp);
  ParameterGroups groups = group_parameters(model, grouping);
  if (options.head_only) {
    model.eval();  // frozen BatchNorm keeps its running statistics
  } else {
    model.train();
  }

  // The guide's two groups, in its order: no decay (biases), then decay.
  std::vector<torch::Tensor> ordered;
  std::vector<std::string> names;
  for (const auto* g : {&groups.no_decay, &groups.decay}) {
    for (const auto& np : *g) {
      ordered.push_back(np.param);
      names.push_back(np.name);
    }
  }
  MasterWeights masters(ordered);
  const size_t n_no_decay = groups.no_decay.size();
  std::vector<torch::Tensor> no_decay_masters(masters.masters().begin(),
                                              masters.masters().begin() + n_no_decay);
  std::vector<torch::Tensor> decay_masters(masters.masters().begin() + n_no_decay,
                                           masters.masters().end());
  auto sgd_options = [&](double wd) {
    return std::make_unique<torch::optim::SGDOptions>(torch::optim::SGDOptions(options.lr)
                                                          .momentum(options.momentum)
                                                          .weight_decay(wd)
                                                          .nesterov(options.nesterov));
  };
  std::vector<torch::optim::OptimizerParamGroup> param_groups;
  if (!no_decay_masters.empty()) param_groups.emplace_back(no_decay_masters, sgd_options(0.0));
  if (!decay_masters.empty())
    param_groups.emplace_back(decay_masters, sgd_options(options.weight_decay));
  torch::optim::SGD optimizer(param_groups, torch::optim::SGDOptions(options.lr));

  out << "=> training " << names.size() << " parameter tensors ("
      << (options.head_only ? "head only, the rest frozen in eval mode" : "whole network")
      << "): " << groups.no_decay.size() << " without weight decay, " << groups.decay.size()
      << " with weight decay " << options.weight_decay << "; SGD lr " << options.lr
      << " momentum " << options.momentum << "; amp " << amp::to_string(options.model.amp.level)
      << (options.model.amp.level == amp::OptLevel::kO0
              ? std::string()
              : " (" + amp::to_string(options.model.amp.dtype) + ")")
      << "; loss scale "
      << (scaler.dynamic() ? "dynamic from " : "static ") << format_scale(scaler.scale())
      << std::endl;

  FinetuneResult result;
  result.trained = names;
  // The crop follows an input size the weights fix.
  const data::PreprocessOptions preprocess =
      data::fit_input_size(options.preprocess, loaded.input_size, options.crop_size_given,
                           options.resize_size_given, loaded.weights);
  if (preprocess.crop_size != options.preprocess.crop_size) {
    out << "=> " << loaded.weights << " fixes the input size to " << preprocess.crop_size << "x"
        << preprocess.crop_size << ": resize " << preprocess.resize_size << ", crop "
        << preprocess.crop_size << std::endl;
  }
  const int64_t crop = preprocess.crop_size;
  const size_t sample_floats = data::preprocessed_size(preprocess);
  const torch::ScalarType input_dtype = amp::input_dtype(options.model.amp);
  double total_seconds = 0;
  int64_t total_images = 0;

  for (int e = 0; e < options.epochs; ++e) {
    const int64_t epoch = loaded.start_epoch + e;
    data::BatchLoaderOptions lo;
    lo.batch_size = options.batch_size;
    lo.workers = options.workers;
    lo.on_demand = !options.task_queue;
    lo.shuffle = options.shuffle;
    lo.seed = options.seed + static_cast<uint64_t>(e);
    data::BatchLoader loader(
        index.samples, sample_floats,
        [preprocess](const std::string& path, float* dst) {
          data::preprocess_file(path, preprocess, dst);
        },
        lo);
    std::mt19937_64 flip_rng(options.seed + static_cast<uint64_t>(e));
    metrics::AverageMeter batch_time("Time", 3, 6, 1);
    metrics::AverageMeter losses("Loss", 4, 7);
    metrics::AverageMeter top1("Acc@1", 2, 6);
    const int64_t num_batches = loader.num_batches();
    int64_t epoch_images = 0, epoch_correct = 0;
    double epoch_loss_sum = 0;
    Clock::time_point start = Clock::now(), end = start;

    while (std::optional<data::Batch> batch = loader.next()) {
      const int64_t n = batch->size();
      if (!options.head_only && n == 1) {
        // BatchNorm in train mode cannot normalise a batch of one.
        out << "=> skipped the last batch: a single image cannot train BatchNorm" << std::endl;
        continue;
      }
      if (options.augment_flip) {
        for (int64_t i = 0; i < n; ++i) {
          if ((flip_rng() >> 63) != 0) hflip(batch->data.data() + i * sample_floats, crop);
        }
      }
      torch::Tensor input =
          torch::from_blob(batch->data.data(), {n, 3, crop, crop}, torch::kFloat32)
              .to(device, input_dtype);
      std::vector<int64_t> labels(batch->labels.begin(), batch->labels.end());
      torch::Tensor target = torch::tensor(labels, torch::kLong).to(device);

      torch::Tensor logits, loss;
      {
        amp::AutocastGuard autocast(options.model.amp, device);
        logits = model.forward(input).to(torch::kFloat32);
        loss = torch::nn::functional::cross_entropy(logits, target);
      }
      scaler.scale_loss(loss).backward();
      masters.grads_to_masters();
      bool taken = scaler.step(optimizer);
      if (taken) masters.masters_to_params();
      masters.clear_grads();
      result.steps += taken ? 1 : 0;

      const double loss_value = loss.item<double>();
      const int64_t correct =
          logits.detach().argmax(1).eq(target).sum().item<int64_t>();
      epoch_images += n;
      epoch_correct += correct;
      epoch_loss_sum += loss_value * n;
      losses.update(loss_value, n);
      top1.update(100.0 * correct / n, n);
      batch_time.update(seconds_since(end));
      end = Clock::now();
      bool last = batch->index + 1 == num_batches;
      if (options.print_freq > 0 && (batch->index % options.print_freq == 0 || last)) {
        double elapsed = seconds_since(start);
        out << metrics::progress_line("Epoch: [" + std::to_string(epoch) + "]", batch->index,
                                      num_batches, {&batch_time, &losses, &top1})
            << "\tLoss scale " << format_scale(scaler.scale()) << " (skipped "
            << scaler.skipped_steps() << ")\t"
            << metrics::format_fixed(elapsed > 0 ? epoch_images / elapsed : 0, 0, 1) << " img/s"
            << std::endl;
      }
    }
    const double seconds = seconds_since(start);
    total_seconds += seconds;
    total_images += epoch_images;
    result.epoch = epoch + 1;
    result.last_loss = epoch_images > 0 ? epoch_loss_sum / epoch_images : 0;
    result.last_acc1 = epoch_images > 0 ? 100.0 * epoch_correct / epoch_images : 0;
    result.skipped_steps = scaler.skipped_steps();
    result.loss_scale = scaler.scale();
    out << "=> epoch " << epoch << ": Loss " << metrics::format_fixed(result.last_loss, 0, 4)
        << " Acc@1 " << metrics::format_fixed(result.last_acc1, 0, 3) << " over " << epoch_images
        << " images; steps " << result.steps << ", skipped " << result.skipped_steps
        << ", loss scale " << format_scale(result.loss_scale) << "; "
        << metrics::format_fixed(seconds > 0 ? epoch_images / seconds : 0, 0, 1) << " img/s"
        << std::endl;

    // fp32 masters replace the low-precision trained parameters in the saved state dict, the
    // fp32 originals the frozen ones.
    std::vector<std::pair<torch::Tensor, torch::Tensor>> overrides;
    for (size_t k = 0; k < masters.params().size(); ++k) {
      overrides.emplace_back(masters.params()[k], masters.master(k));
    }
    for (const auto& [param, original] : fp32_originals) {
      if (!param.requires_grad()) overrides.emplace_back(param, original);
    }
    GuideCheckpoint c;
    c.epoch = result.epoch;
    c.arch = options.model.arch;
    c.state_dict = model_state_dict(model, overrides);
    c.module_versions = module_versions(model, options.model.arch);
    c.best_acc1 = loaded.best_acc1;
    if (options.save_optimizer) c.optimizer = sgd_state_dict(optimizer);
    checkpoint::save_torch_file(options.output, guide_checkpoint(c));
    out << "=> saved checkpoint '" << options.output << "' (epoch " << result.epoch << ")"
        << std::endl;
  }
  result.images_per_second = total_seconds > 0 ? total_images / total_seconds : 0;
  spdlog::info("finetune: {} steps, {} skipped, loss scale {}, wrote {}", result.steps,
               result.skipped_steps, result.loss_scale, options.output);
  return result;
}

}  // namespace ptinfer::train
