#!/usr/bin/python3
"""One Python anchor of bench/anchors.py, in its own process (so each gets its own malloc setting).

  anchor_worker.py prepare --work DIR --arch A --image-size N [--seed S] [--onnx]
      Writes, once per (arch, size, seed), under DIR: the weights as a checkpoint in the guide's
      format (what `ptinfer bench --resume` reads; BatchNorm statistics randomised so they matter),
      with --onnx the same model exported to ONNX (torch.onnx.export, opset 13, dynamic batch),
      and a fixed check input (2 x 3 x N x N, .npy and raw little-endian float32 .f32 for node).
      Prints the paths and the model's GFLOP per image (gflop_per_image) as JSON.
  anchor_worker.py run --path {eager,ts_fp32,ts_bf16} --ckpt F --arch A --image-size N
                       --batch-sizes 1,32 --threads T --warmup W --iters I --seconds S
                       [--check-in X.npy --check-out Y.npy]
      Builds the anchor from the checkpoint, optionally writes its fp32 logits for the check input,
      then times each batch size the way `ptinfer bench` does (W untimed calls, then calls until
      at least I calls and S seconds; img/s = batch * calls / timed seconds) and prints JSON.

Paths: eager = the guide's model (NCHW fp32, eval, no_grad); ts_fp32 = torch.jit.script + freeze +
optimize_for_inference on a channels_last fp32 model; ts_bf16 = bf16 weights, channels_last,
script + freeze. TorchScript's profiling executor specialises on the first calls of each shape, so
the TorchScript paths always get at least 2 warm-up calls per batch size.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def prepare(args):
    import numpy as np
    import torch
    os.makedirs(args.work, exist_ok=True)
    stem = os.path.join(args.work, "%s_%d_seed%d" % (args.arch, args.image_size, args.seed))
    ckpt, onnx_path = stem + ".pth.tar", stem + ".onnx"
    check_npy, check_f32 = stem + "_check_input.npy", stem + "_check_input.f32"
    if not os.path.exists(ckpt):
        sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
        import common
        common.make_guide_checkpoint(ckpt + ".tmp", args.arch, 1000, seed=args.seed)
        os.replace(ckpt + ".tmp", ckpt)
    if args.onnx and not os.path.exists(onnx_path):
        model = load_model(ckpt, args.arch)
        torch.onnx.export(model, torch.randn(1, 3, args.image_size, args.image_size),
                          onnx_path + ".tmp", opset_version=13, input_names=["input"],
                          output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        os.replace(onnx_path + ".tmp", onnx_path)
    if not os.path.exists(check_f32):
        g = torch.Generator().manual_seed(args.seed + 1)
        x = torch.randn(2, 3, args.image_size, args.image_size, generator=g).numpy()
        np.save(check_npy, x)
        x.astype("<f4").tofile(check_f32 + ".tmp")
        os.replace(check_f32 + ".tmp", check_f32)
    print(json.dumps({"ckpt": ckpt, "onnx": onnx_path, "check_npy": check_npy,
                      "check_f32": check_f32, "check_shape": [2, 3, args.image_size,
                                                              args.image_size],
                      "gflop_per_image": gflop_per_image(args.arch, args.image_size)}))


def gflop_per_image(arch, image_size):
    """The convolutions' and linear layers' multiply-adds for one image, x 2, in GFLOP (what
    "ResNet-50 is 8.18 GFLOP per 224x224 image" counts; pooling, ReLU and BatchNorm left out),
    counted on the output shapes of one forward."""
    import torch
    import torchvision
    model = getattr(torchvision.models, arch)(num_classes=1000).eval()
    total = [0]

    def conv_hook(m, inputs, out):
        k = m.kernel_size[0] * m.kernel_size[1]
        total[0] += 2 * out.numel() * (m.in_channels // m.groups) * k

    def linear_hook(m, inputs, out):
        total[0] += 2 * out.numel() * m.in_features

    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(conv_hook)
        elif isinstance(m, torch.nn.Linear):
            m.register_forward_hook(linear_hook)
    with torch.no_grad():
        model(torch.zeros(1, 3, image_size, image_size))
    return total[0] / 1e9


def load_model(ckpt, arch):
    """torchvision's `arch` (1000 classes) with the checkpoint's weights, in eval mode."""
    import torch
    import torchvision
    state = torch.load(ckpt, map_location="cpu")["state_dict"]
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
    model = getattr(torchvision.models, arch)(num_classes=1000)
    model.load_state_dict(state)
    return model.eval()


def build(path, ckpt, arch):
    """Returns (callable model, input dtype, memory format) for an anchor path."""
    import torch
    model = load_model(ckpt, arch)
    if path == "eager":
        return model, torch.float32, torch.contiguous_format
    cl = torch.channels_last
    if path == "ts_fp32":
        model = model.to(memory_format=cl)
        frozen = torch.jit.freeze(torch.jit.script(model))
        return torch.jit.optimize_for_inference(frozen), torch.float32, cl
    if path == "ts_bf16":
        model = model.to(torch.bfloat16).to(memory_format=cl)
        return torch.jit.freeze(torch.jit.script(model)), torch.bfloat16, cl
    raise SystemExit("unknown --path %s" % path)


def run(args):
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    model, dtype, fmt = build(args.path, args.ckpt, args.arch)
    warmup = max(args.warmup, 2) if args.path.startswith("ts_") else args.warmup
    result = {"path": args.path, "threads": torch.get_num_threads(), "warmup": warmup,
              "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""), "rows": []}
    with torch.no_grad():
        if args.check_in:
            x = torch.from_numpy(np.load(args.check_in)).to(dtype).contiguous(memory_format=fmt)
            for _ in range(warmup):  # the check runs on the shape TorchScript has specialised for
                model(x)
            np.save(args.check_out, model(x).float().numpy())
        for bs in args.batch_sizes:
            x = torch.randn(bs, 3, args.image_size, args.image_size).to(dtype)
            x = x.contiguous(memory_format=fmt)
            for _ in range(warmup):
                model(x)
            times = []
            start = time.perf_counter()
            while len(times) < args.iters or time.perf_counter() - start < args.seconds:
                t0 = time.perf_counter()
                model(x)
                times.append(time.perf_counter() - t0)
            total = sum(times)
            result["rows"].append({"batch_size": bs, "calls": len(times),
                                   "images_per_second": bs * len(times) / total,
                                   "p50_ms": 1000.0 * sorted(times)[len(times) // 2]})
    print(json.dumps(result))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("--work", required=True)
    pp.add_argument("--arch", required=True)
    pp.add_argument("--image-size", type=int, required=True)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--onnx", action="store_true", help="also export the ONNX file")
    pr = sub.add_parser("run")
    pr.add_argument("--path", required=True, choices=["eager", "ts_fp32", "ts_bf16"])
    pr.add_argument("--ckpt", required=True)
    pr.add_argument("--arch", required=True)
    pr.add_argument("--image-size", type=int, required=True)
    pr.add_argument("--batch-sizes", type=lambda s: [int(v) for v in s.split(",")], required=True)
    pr.add_argument("--threads", type=int, required=True)
    pr.add_argument("--warmup", type=int, default=1)
    pr.add_argument("--iters", type=int, default=2)
    pr.add_argument("--seconds", type=float, default=0.0)
    pr.add_argument("--check-in")
    pr.add_argument("--check-out")
    args = p.parse_args()
    prepare(args) if args.cmd == "prepare" else run(args)


if __name__ == "__main__":
    main()
