#!/usr/bin/env python3
"""The Python side of tools/device/amp_cuda_check.sh: PyTorch's own mixed precision on the same
device, images and checkpoint, compared with what amp_device_check wrote.

For each policy amp_device_check ran (its demo_<policy>.f32 logits in --work), the same model runs
in PyTorch the way a Python user would write it: O0 fp32; O1 under torch.autocast; O2 as Apex's O2
leaves a model (weights in the low dtype except BatchNorm, input cast, logits back to fp32); O3 the
whole model in the low dtype. Prints and writes (--out, JSON) per policy: PyTorch's Acc@1, top-1
agreement with ptinfer and the largest logit difference; and, with --bench-iters, resnet50's img/s
in PyTorch's eager loop at batch 1 and 32 next to ptinfer's (summary.json) with the ratio; and the
checkpoints the finetune part wrote (ft_<policy>.pth.tar), read with torch.load(weights_only=True):
their Acc@1 in PyTorch against ptinfer's.
Exit status 1 when O0 agrees on fewer than 99.9% of images, O1/O2 on fewer than 99%, or a
fine-tuned checkpoint's Acc@1 differs by more than 0.05 points.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torchvision

LOW = {"fp16": torch.float16, "bf16": torch.bfloat16}


def load_demo(src, device, limit):
    sys.path.insert(0, os.path.join(src, "scripts"))
    import fashion_mnist as fm
    images, labels = fm.load_split("t10k")
    if limit:
        images, labels = images[:limit], labels[:limit]
    x = torch.from_numpy(images.copy()).unsqueeze(1).float().div(255).sub(fm.MEAN).div(fm.STD)
    x = x.expand(-1, 3, -1, -1).contiguous()
    # Our own demo file: trusted, and it holds more than tensors (classes, arch).
    ckpt = torch.load(os.path.join(src, "demo", "fashion_mnist_resnet18.pth.tar"),
                      map_location="cpu", weights_only=False)
    sd = {k[len("module."):] if k.startswith("module.") else k: v
          for k, v in ckpt["state_dict"].items()}
    return x, torch.from_numpy(labels.copy()), sd


def prepare(model, policy, device):
    """Returns forward(x_cpu) -> fp32 logits on the CPU for `policy` ('O0', 'O2-fp16', ...)."""
    model = model.to(device).eval()
    level, _, dtype = policy.partition("-")
    low = LOW.get(dtype)
    if level == "O2":
        model.to(low)
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.float()
    elif level == "O3":
        model.to(low)

    def forward(x):
        with torch.no_grad():
            if level == "O1":
                with torch.autocast(device_type=device.type, dtype=low):
                    out = model(x.to(device))
            elif level in ("O2", "O3"):
                out = model(x.to(device, low))
            else:
                out = model(x.to(device))
            return out.float().cpu()
    return forward


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--src", required=True)
    p.add_argument("--work", required=True, help="amp_device_check's --out folder")
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--bench-iters", type=int, default=0)
    args = p.parse_args()
    device = torch.device(args.device)
    x, y, sd = load_demo(args.src, device, args.limit)
    summary = json.load(open(os.path.join(args.work, "summary.json")))
    report = {"torch": torch.__version__, "cuda": torch.version.cuda, "device": str(device),
              "demo": {}, "bench": {}}
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)
    failures = 0
    for policy in summary["demo"]:
        if policy == "cpu-O0":
            continue
        ours = np.fromfile(os.path.join(args.work, "demo_%s.f32" % policy), dtype=np.float32)
        ours = torch.from_numpy(ours).view(x.size(0), -1)
        model = torchvision.models.resnet18(num_classes=10)
        model.load_state_dict(sd)
        forward = prepare(model, policy, device)
        theirs = torch.cat([forward(x[i:i + 250]) for i in range(0, x.size(0), 250)])
        acc1 = 100.0 * (theirs.argmax(1) == y).sum().item() / y.size(0)
        agree = 100.0 * (theirs.argmax(1) == ours.argmax(1)).sum().item() / y.size(0)
        diff = (theirs - ours).abs().max().item()
        need = 99.9 if policy == "O0" else 99.0 if not policy.startswith("O3") else 0
        ok = agree >= need
        failures += not ok
        print("%-8s PyTorch Acc@1 %.2f, ptinfer %.2f; top-1 agreement %.2f%%; max |diff| %.3g  %s"
              % (policy, acc1, summary["demo"][policy]["acc1"], agree, diff,
                 "ok" if ok else "FAIL (need %.1f%%)" % need))
        report["demo"][policy] = {"pytorch_acc1": acc1, "ptinfer_acc1": summary["demo"][policy]["acc1"],
                                  "top1_agreement": agree, "max_abs_diff": diff}
    for policy, ours in summary.get("finetune", {}).items():
        # The checkpoint `ptinfer finetune`'s loop wrote, read as a Python user would.
        ckpt = torch.load(os.path.join(args.work, "ft_%s.pth.tar" % policy), map_location="cpu",
                          weights_only=True)
        model = torchvision.models.resnet18(num_classes=10)
        model.load_state_dict(ckpt["state_dict"])
        forward = prepare(model, "O0", device)
        logits = torch.cat([forward(x[i:i + 250]) for i in range(0, x.size(0), 250)])
        acc1 = 100.0 * (logits.argmax(1) == y).sum().item() / y.size(0)
        ok = abs(acc1 - ours["saved_acc1"]) <= 0.05
        failures += not ok
        print("finetune %-8s torch.load(weights_only=True) + PyTorch Acc@1 %.2f, ptinfer %.2f  %s"
              % (policy, acc1, ours["saved_acc1"], "ok" if ok else "FAIL (need |diff| <= 0.05)"))
        report.setdefault("finetune", {})[policy] = {"pytorch_acc1": acc1,
                                                     "ptinfer_acc1": ours["saved_acc1"],
                                                     "epoch": ckpt.get("epoch")}
    if args.bench_iters and "bench" in summary:
        for policy, sizes in summary["bench"].items():
            model = torchvision.models.resnet50()
            forward = prepare(model, policy, device)
            for bs in (1, 32):
                xb = torch.randn(bs, 3, 224, 224)
                for _ in range(3):
                    forward(xb)
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                t0 = time.perf_counter()
                for _ in range(args.bench_iters):
                    forward(xb)
                ips = bs * args.bench_iters / (time.perf_counter() - t0)
                peak = (torch.cuda.max_memory_allocated(device) / 2**20
                        if device.type == "cuda" else None)
                ours = sizes["bs%d" % bs]
                print("%-8s bs %2d: PyTorch eager %.1f img/s, ptinfer %.1f img/s (%.2fx); "
                      "peak MiB PyTorch %s, ptinfer %s"
                      % (policy, bs, ips, ours["img_per_s"], ours["img_per_s"] / ips,
                         "%.0f" % peak if peak else "-",
                         "%.0f" % ours["peak_mib"] if ours.get("peak_mib") else "-"))
                report["bench"]["%s-bs%d" % (policy, bs)] = {
                    "pytorch_img_per_s": ips, "ptinfer_img_per_s": ours["img_per_s"],
                    "ratio": ours["img_per_s"] / ips, "pytorch_peak_mib": peak,
                    "ptinfer_peak_mib": ours.get("peak_mib")}
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print("reference: %s" % ("all agree" if not failures else "%d policies disagree" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
