// amp_device_check: the mixed-precision policies (src/amp) checked and measured on one device, in
// one process. Built with the rest of ptinfer; CI runs it on the CPU (ctest amp_device_check_cpu)
// and tools/device/amp_cuda_check.sh runs it on a CUDA machine, against a CUDA LibTorch.
//
// usage: amp_device_check --device cpu|cuda:N --checkpoint FILE --images IDX --labels IDX
//                         [--limit N] [--archs a,b,...] [--bench-iters N] [--out DIR]
//                         [--train-data IMAGEFOLDER]
//
// IDX are Fashion-MNIST's uncompressed idx files (t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte);
// FILE is the demo checkpoint (resnet18, 10 classes, 28x28 inputs). Parts, each printed as it
// runs and collected in DIR/summary.json:
//   layers   resnet18 run child by child under O1/O2/O3: the dtype each top-level layer returns
//            (BatchNorm fp32 under O1, the low dtype under O2/O3) and the dtypes O2 leaves in
//            the parameters (BatchNorm fp32, the rest low)
//   family   each --archs model (default: the whole registry), O1 and O2 logits against O0:
//            max relative error < 10% for bf16, 2% for fp16, top-1 agreement >= 6/8
//   scaler   the loss scaler with gradients on the device: a planted inf skips the step and
//            halves the scale, a clean step is taken
//   demo     the demo checkpoint through the Engine under every policy the device runs: Acc@1,
//            Acc@5, top-1 agreement with O0 on this device and with fp32 on the CPU; the logits
//            are written to DIR/demo_<policy>.f32 for tools/device/amp_cuda_reference.py
//   finetune (with --train-data) `ptinfer finetune`'s loop, one epoch from the demo checkpoint
//            under O0, O1 and O2, and the Acc@1 of the checkpoint it writes
//   bench    resnet50 (random weights) through the Engine at batch 1 and 32: img/s per policy
//            and, on CUDA, the peak memory the caching allocator handed out
// Exit status: 0 when every check holds, 1 when one fails (each failure is printed), 2 for bad
// arguments or unreadable files.
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "amp/autocast.h"
#include "amp/loss_scaler.h"
#include "amp/model_policy.h"
#include "amp/policy.h"
#include "common/error.h"
#include "engine/engine.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "tools/cuda_memory_stats.h"
#include "tools/fashion_mnist_idx.h"
#include "train/trainer.h"

namespace {

using ptinfer::amp::LowDtype;
using ptinfer::amp::OptLevel;
using ptinfer::amp::Policy;
using nlohmann::json;

int g_failures = 0;

void check(bool ok, const std::string& what) {
  std::cout << (ok ? "  ok    " : "  FAIL  ") << what << "\n";
  if (!ok) ++g_failures;
}

std::string policy_name(const Policy& p) {
  return p.level == OptLevel::kO0 ? "O0"
                                  : ptinfer::amp::to_string(p.level) + "-" +
                                        ptinfer::amp::to_string(p.dtype);
}

// The policies `device` runs: O0, then O1..O3 with each low dtype it supports.
std::vector<Policy> policies_for(const torch::Device& device) {
  std::vector<Policy> out{{OptLevel::kO0, LowDtype::kBFloat16}};
  std::vector<LowDtype> dtypes{LowDtype::kBFloat16};
  if (device.is_cuda()) dtypes.insert(dtypes.begin(), LowDtype::kFloat16);
  for (LowDtype d : dtypes)
    for (OptLevel l : {OptLevel::kO1, OptLevel::kO2, OptLevel::kO3}) out.push_back({l, d});
  return out;
}

// --- layers -------------------------------------------------------------------------------------

json check_layers(const torch::Device& device) {
  std::cout << "layers: resnet18 child by child on " << device.str() << "\n";
  json out;
  for (const Policy& policy : policies_for(device)) {
    if (policy.level == OptLevel::kO0) continue;
    torch::manual_seed(7);
    auto model = ptinfer::models::create_model("resnet18", 10);
    model->to(device);
    model->eval();
    ptinfer::amp::apply_to_model(*model, policy);
    const torch::ScalarType low = ptinfer::amp::scalar_type(policy.dtype);
    const std::string name = policy_name(policy);
    std::map<std::string, std::string> dtypes;
    {
      torch::InferenceMode inference;
      ptinfer::amp::AutocastGuard autocast(policy, device);
      torch::Tensor x =
          torch::randn({2, 3, 64, 64}).to(device, ptinfer::amp::input_dtype(policy));
      for (const auto& item : model->named_children()) {
        x = ptinfer::models::forward_top_level_child(*item.value(), x);
        dtypes[item.key()] = std::string(c10::toString(x.scalar_type()));
        // O1: conv1 and fc in the low dtype; BatchNorm in fp32, so bn1 and every block (ending
        // in BN + add + relu) return fp32. O2/O3: the low dtype from the input to the logits.
        const bool low_under_o1 = item.key() == "conv1" || item.key() == "fc";
        torch::ScalarType want =
            policy.level == OptLevel::kO1 && !low_under_o1 ? torch::kFloat32 : low;
        check(x.scalar_type() == want,
              name + " " + item.key() + " returns " + c10::toString(x.scalar_type()));
      }
      if (policy.level == OptLevel::kO1) {
        torch::Tensor logits = torch::randn({2, 10}, device).to(low);
        check(torch::softmax(logits, 1).scalar_type() == torch::kFloat32,
              name + " softmax returns Float");
      }
    }
    if (policy.level == OptLevel::kO2) {
      bool ok = true;
      for (const auto& p : model->named_parameters()) {
        bool bn = p.key().find("bn") != std::string::npos ||
                  p.key().find("downsample.1") != std::string::npos;
        ok = ok && p.value().scalar_type() == (bn ? torch::kFloat32 : low);
      }
      check(ok, name + " parameters: BatchNorm Float, the rest " + c10::toString(low));
    }
    out[name] = dtypes;
  }
  return out;
}

// --- family -------------------------------------------------------------------------------------

// A randomly initialised `arch` with calibrated BatchNorm statistics: the running statistics are
// those of one random batch (as after training) and the affine parameters are perturbed, so that
// keeping BN in fp32 or not shows in the logits. Uncalibrated statistics (mean 0, var 1) let
// the activations of the deeper models grow past fp16's range (65504), which trained models do
// not do.
std::shared_ptr<ptinfer::models::ImageClassifier> family_model(const std::string& arch,
                                                               const torch::Device& device) {
  torch::manual_seed(7);
  auto model = ptinfer::models::create_model(arch, 100);
  model->to(device);
  std::vector<torch::nn::BatchNorm2dImpl*> bns;
  for (const auto& m : model->modules(false))
    if (auto* bn = m->as<torch::nn::BatchNorm2d>()) bns.push_back(bn);
  {
    torch::NoGradGuard no_grad;
    for (auto* bn : bns) bn->options.momentum(1.0);  // running stats := this batch's
    model->train();
    model->forward(torch::randn({8, 3, 112, 112}).to(device));
    for (auto* bn : bns) {
      bn->options.momentum(0.1);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.uniform_(-0.2, 0.2);
    }
  }
  model->eval();
  return model;
}

torch::Tensor family_forward(ptinfer::models::ImageClassifier& model, const Policy& policy,
                             const torch::Device& device, const torch::Tensor& x) {
  torch::InferenceMode inference;
  ptinfer::amp::AutocastGuard autocast(policy, device);
  return model.forward(x.to(device, ptinfer::amp::input_dtype(policy)))
      .to(torch::kCPU, torch::kFloat32);
}

json check_family(const torch::Device& device, const std::vector<std::string>& archs) {
  std::cout << "family: O1/O2 logits against O0 on " << device.str() << "\n";
  json out;
  // The fp32 reference without TF32, so that the error measured is the policy's alone.
  const bool tf32 = at::globalContext().allowTF32CuDNN();
  at::globalContext().setAllowTF32CuDNN(false);
  torch::manual_seed(11);
  torch::Tensor x = torch::randn({8, 3, 112, 112});
  for (const std::string& arch : archs) {
    torch::Tensor ref = family_forward(*family_model(arch, device), {}, device, x);
    for (const Policy& policy : policies_for(device)) {
      if (policy.level != OptLevel::kO1 && policy.level != OptLevel::kO2) continue;
      auto model = family_model(arch, device);
      ptinfer::amp::apply_to_model(*model, policy);
      torch::Tensor l = family_forward(*model, policy, device, x);
      double rel = ((l - ref).abs().max() / ref.abs().max()).item<double>();
      double agree = (l.argmax(1) == ref.argmax(1)).to(torch::kFloat32).mean().item<double>();
      std::ostringstream what;
      what << arch << " " << policy_name(policy) << ": max rel error " << rel << ", top-1 "
           << agree;
      // Bounds: bf16 keeps 8 significand bits, fp16 11 (8x finer). Measured with calibrated
      // statistics: CPU bf16 resnet18 1.2%, resnet50 3.6%; H200 (whole registry) bf16 at most
      // 3.0%, fp16 at most 0.5%. Randomly initialised 100-class
      // heads have near-ties: one of 8 rows may flip, or two.
      const double bound = policy.dtype == LowDtype::kFloat16 ? 0.02 : 0.10;
      check(rel < bound && rel > 0 && agree >= 6.0 / 8, what.str());
      out[arch][policy_name(policy)] = {{"max_rel_error", rel}, {"top1_agreement", agree}};
    }
  }
  at::globalContext().setAllowTF32CuDNN(tf32);
  return out;
}

// --- scaler -------------------------------------------------------------------------------------

json check_scaler(const torch::Device& device) {
  std::cout << "scaler: gradients on " << device.str() << "\n";
  torch::Tensor w = torch::ones({4}, torch::TensorOptions().device(device).requires_grad(true));
  torch::optim::SGD sgd({w}, torch::optim::SGDOptions(0.1));
  ptinfer::amp::LossScalerOptions options;
  options.init_scale = 1024;
  options.growth_interval = 2;
  ptinfer::amp::LossScaler scaler(options);
  auto step = [&](double poison) {
    sgd.zero_grad();
    torch::Tensor loss = (w * w).sum() * poison;
    scaler.scale_loss(loss).backward();
    return scaler.step(sgd);
  };
  torch::Tensor before = w.detach().to(torch::kCPU).clone();
  bool taken = step(std::numeric_limits<double>::infinity());
  check(!taken && scaler.scale() == 512 && scaler.skipped_steps() == 1 &&
            torch::equal(w.detach().to(torch::kCPU), before),
        "an inf gradient skips the step and halves the scale");
  taken = step(1.0);
  bool moved = !torch::equal(w.detach().to(torch::kCPU), before);
  check(taken && moved && scaler.scale() == 512, "a clean step is taken at the same scale");
  step(1.0);
  check(scaler.scale() == 1024, "two clean steps in a row grow the scale back");
  return {{"scale", scaler.scale()}, {"skipped", scaler.skipped_steps()}};
}

// --- demo ---------------------------------------------------------------------------------------

struct DemoRun {
  torch::Tensor logits;
  double acc1 = 0, acc5 = 0;
};

DemoRun run_demo(const std::string& checkpoint, const torch::Device& device, const Policy& policy,
                 const torch::Tensor& x, const torch::Tensor& y) {
  ptinfer::engine::EngineOptions options;
  options.arch = "resnet18";
  options.checkpoint = checkpoint;
  options.device = device.str();
  options.amp = policy;
  ptinfer::engine::Engine engine(options);
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < x.size(0); i += 250)
    parts.push_back(engine.run(x.slice(0, i, std::min<int64_t>(i + 250, x.size(0)))));
  DemoRun r;
  r.logits = torch::cat(parts);
  torch::Tensor top5 = std::get<1>(r.logits.topk(5, 1));
  r.acc1 = 100.0 * (top5.select(1, 0) == y).sum().item<double>() / y.size(0);
  r.acc5 = 100.0 * (top5 == y.unsqueeze(1)).any(1).sum().item<double>() / y.size(0);
  return r;
}

void write_f32(const std::string& path, const torch::Tensor& t) {
  torch::Tensor c = t.contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(c.data_ptr<float>()), c.numel() * sizeof(float));
}

json check_demo(const std::string& checkpoint, const torch::Device& device, const torch::Tensor& x,
                const torch::Tensor& y, const std::string& out_dir) {
  std::cout << "demo: " << checkpoint << " on " << device.str() << ", " << x.size(0)
            << " images\n";
  json out;
  DemoRun cpu = run_demo(checkpoint, torch::Device("cpu"), {}, x, y);
  out["cpu-O0"] = {{"acc1", cpu.acc1}, {"acc5", cpu.acc5}};
  std::cout << "  cpu O0: Acc@1 " << cpu.acc1 << " Acc@5 " << cpu.acc5 << "\n";
  std::optional<DemoRun> o0;
  for (const Policy& policy : policies_for(device)) {
    DemoRun r = run_demo(checkpoint, device, policy, x, y);
    if (!o0) o0 = r;
    auto agree = [&](const torch::Tensor& ref) {
      return 100.0 * (r.logits.argmax(1) == ref.argmax(1)).sum().item<double>() / y.size(0);
    };
    const std::string name = policy_name(policy);
    double vs_o0 = agree(o0->logits), vs_cpu = agree(cpu.logits);
    double max_diff = (r.logits - cpu.logits).abs().max().item<double>();
    std::cout << "  " << device.str() << " " << name << ": Acc@1 " << r.acc1 << " Acc@5 "
              << r.acc5 << ", top-1 agreement with O0 " << vs_o0 << "%, with cpu fp32 " << vs_cpu
              << "%, max |logit - cpu fp32| " << max_diff << "\n";
    out[name] = {{"acc1", r.acc1},
                 {"acc5", r.acc5},
                 {"agree_o0", vs_o0},
                 {"agree_cpu_fp32", vs_cpu},
                 {"max_abs_diff_cpu_fp32", max_diff}};
    if (policy.level == OptLevel::kO0) {
      check(vs_cpu >= 99.5, name + " agrees with the CPU's fp32 on >= 99.5% of images");
    } else if (policy.level != OptLevel::kO3) {
      check(vs_o0 >= 99.0 && std::abs(r.acc1 - o0->acc1) <= 0.5,
            name + " within 0.5 points of O0's Acc@1 and >= 99% top-1 agreement");
    }
    if (!out_dir.empty()) write_f32(out_dir + "/demo_" + name + ".f32", r.logits);
  }
  return out;
}

// --- finetune -----------------------------------------------------------------------------------

// `ptinfer finetune`'s loop (train/trainer.h) on the device: one epoch of the whole network from
// the demo checkpoint on the ImageFolder `data` under O0 and O1/O2 with each low dtype (Apex's
// loss-scale defaults: dynamic for O1/O2), then the written checkpoint's Acc@1 through the Engine.
// The checkpoints stay in out_dir as ft_<policy>.pth.tar for amp_cuda_reference.py to torch.load.
json check_finetune(const std::string& checkpoint, const std::string& data,
                    const torch::Device& device, const torch::Tensor& x, const torch::Tensor& y,
                    const std::string& out_dir) {
  std::cout << "finetune: " << data << " on " << device.str() << "\n";
  json out;
  for (const Policy& policy : policies_for(device)) {
    if (policy.level == OptLevel::kO3) continue;
    const std::string name = policy_name(policy);
    ptinfer::train::FinetuneOptions o;
    o.data = data;
    o.model.arch = "resnet18";
    o.model.checkpoint = checkpoint;
    o.model.device = device.str();
    o.model.amp = policy;
    o.preprocess.resize_size = 28;
    o.preprocess.crop_size = 28;
    o.preprocess.mean = {0.2860f, 0.2860f, 0.2860f};
    o.preprocess.std = {0.3530f, 0.3530f, 0.3530f};
    // Shuffled (seeded): the ImageFolder lists the images class by class, and whole-network
    // training on one-class batches wrecks the model (and its BatchNorm statistics).
    o.shuffle = true;
    o.seed = 1;
    o.batch_size = 250;
    o.workers = 4;
    o.print_freq = 0;
    o.lr = 0.01;
    o.output = out_dir + "/ft_" + name + ".pth.tar";
    std::ostringstream log;
    ptinfer::train::FinetuneResult r = ptinfer::train::run_finetune(o, log);
    DemoRun after = run_demo(o.output, device, {}, x, y);
    std::cout << "  " << name << ": " << r.steps << " steps, " << r.skipped_steps
              << " skipped, loss scale " << r.loss_scale << ", loss " << r.last_loss
              << ", train Acc@1 " << r.last_acc1 << ", " << r.images_per_second
              << " img/s; saved checkpoint Acc@1 " << after.acc1 << "\n";
    check(r.steps > 0 && r.skipped_steps < r.steps && std::isfinite(r.last_loss) &&
              after.acc1 > 80,
          name + " trains (finite loss, steps taken) and keeps Acc@1 above 80");
    out[name] = {{"steps", r.steps},           {"skipped", r.skipped_steps},
                 {"loss_scale", r.loss_scale}, {"loss", r.last_loss},
                 {"train_acc1", r.last_acc1},  {"img_per_s", r.images_per_second},
                 {"saved_acc1", after.acc1}};
  }
  return out;
}

// --- bench --------------------------------------------------------------------------------------

json bench(const torch::Device& device, int iters) {
  std::cout << "bench: resnet50 through the Engine on " << device.str() << "\n";
  json out;
  for (const Policy& policy : policies_for(device)) {
    ptinfer::engine::EngineOptions options;
    options.arch = "resnet50";
    options.device = device.str();
    options.amp = policy;
    ptinfer::engine::Engine engine(options);
    for (int64_t bs : {1, 32}) {
      torch::Tensor x = torch::randn({bs, 3, 224, 224});
      ptinfer::tools::reset_cuda_peak(device);
      for (int i = 0; i < 3; ++i) engine.run(x);
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < iters; ++i) engine.run(x);  // run() returns logits on the CPU: synced
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double ips = bs * iters / s;
      auto peak = ptinfer::tools::cuda_peak_allocated_bytes(device);
      std::cout << "  " << policy_name(policy) << " bs " << bs << ": " << ips << " img/s";
      if (peak) std::cout << ", peak " << *peak / 1048576.0 << " MiB";
      std::cout << "\n";
      out[policy_name(policy)]["bs" + std::to_string(bs)] = {
          {"img_per_s", ips}, {"peak_mib", peak ? json(*peak / 1048576.0) : json(nullptr)}};
    }
  }
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args{{"--device", "cpu"}, {"--limit", "0"},
                                          {"--bench-iters", "0"}, {"--out", ""},
                                          {"--archs", ""}, {"--checkpoint", ""},
                                          {"--images", ""}, {"--labels", ""},
                                          {"--train-data", ""}};
  for (int i = 1; i < argc; i += 2) {
    if (!args.count(argv[i]) || i + 1 >= argc) {
      std::cerr << "ERROR: unknown flag or missing value: " << argv[i] << "\n";
      return 2;
    }
    args[argv[i]] = argv[i + 1];
  }
  try {
    torch::Device device(args["--device"]);
    std::vector<std::string> archs =
        args["--archs"].empty() ? ptinfer::models::model_names() : split(args["--archs"]);
    json summary;
    summary["device"] = device.str();
    summary["torch"] = TORCH_VERSION;
    summary["layers"] = check_layers(device);
    summary["family"] = check_family(device, archs);
    summary["scaler"] = check_scaler(device);
    if (!args["--checkpoint"].empty()) {
      auto [x, y] = ptinfer::tools::load_fashion_mnist(args["--images"], args["--labels"],
                                       std::stoll(args["--limit"]));
      summary["demo"] = check_demo(args["--checkpoint"], device, x, y, args["--out"]);
      if (!args["--train-data"].empty())
        summary["finetune"] =
            check_finetune(args["--checkpoint"], args["--train-data"], device, x, y, args["--out"]);
    }
    if (int iters = std::stoi(args["--bench-iters"]); iters > 0) summary["bench"] = bench(device, iters);
    summary["failures"] = g_failures;
    if (!args["--out"].empty()) std::ofstream(args["--out"] + "/summary.json") << summary.dump(1);
    std::cout << (g_failures ? "FAILED: " + std::to_string(g_failures) + " checks" : "all checks hold")
              << "\n";
    return g_failures ? 1 : 0;
  } catch (const ptinfer::Error& e) {
    std::cerr << "ERROR: " << e.what() << "\n";
    return ptinfer::exit_code_for(e.kind());
  } catch (const std::exception& e) {
    std::cerr << "ERROR: " << e.what() << "\n";
    return 1;
  }
}
