#!/usr/bin/python3
"""The input pipeline per core: ptinfer's decode + Resize(256) + CenterCrop(224) + ToTensor +
Normalize (bench/input_pipeline_bench, one thread) against PIL + torchvision doing the same
(Image.open(path).convert('RGB') and transforms.Compose, torch.set_num_threads(1)) on the same
generated ImageNet-like JPEGs, interleaved round by round in one process tree. Before timing,
the first --check images' tensors are compared for equality (the bench fails if one differs).

Usage: /usr/bin/python3 bench/input_pipeline.py [--images 200] [--rounds 3] [--check 20]
         [--work DIR] [--bench build/bench/input_pipeline_bench] [--json FILE]
Prints one row per runner (best round's img/s and ms per image) and ptinfer / PIL.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchvision.transforms as T
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def pil_transform():
    return T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(), T.Normalize(MEAN, STD)])


def pil_round(files, transform):
    start = time.perf_counter()
    for f in files:
        with Image.open(f) as im:
            transform(im.convert("RGB"))
    return time.perf_counter() - start


def run_bench(binary, args):
    proc = subprocess.run([binary] + args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit("%s failed (%d):\n%s" % (binary, proc.returncode, proc.stderr))
    return json.loads(proc.stdout)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--check", type=int, default=20, help="images compared for equality")
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "ptinfer_bench"))
    p.add_argument("--bench", default=os.path.join(ROOT, "build", "bench", "input_pipeline_bench"))
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)

    data = os.path.join(args.work, "imagenet_like_%d" % args.images, "val")
    subprocess.run([sys.executable, os.path.join(HERE, "make_imagenet_like.py"), "--out", data,
                    "--images", str(args.images)], check=True, stdout=subprocess.DEVNULL)
    files = sorted(glob.glob(os.path.join(data, "*", "*")))
    list_path = os.path.join(args.work, "input_pipeline_files.txt")
    with open(list_path, "w") as f:
        f.write("\n".join(files) + "\n")
    transform = pil_transform()

    # Exactness first: the same tensors, bit for bit.
    check = min(args.check, len(files))
    dump = os.path.join(args.work, "input_pipeline_dump.f32")
    run_bench(args.bench, ["--list", list_path, "--dump", dump, "--dump-count", str(check)])
    ours = np.fromfile(dump, dtype=np.float32).reshape(check, 3, 224, 224)
    for i in range(check):
        with Image.open(files[i]) as im:
            ref = transform(im.convert("RGB")).numpy()
        if not np.array_equal(ours[i], ref):
            raise SystemExit("%s: ptinfer's tensor differs from torchvision's (max |diff| %g)" %
                             (files[i], np.abs(ours[i] - ref).max()))

    best = {"ptinfer": None, "pil": None}
    for _ in range(args.rounds):
        s = run_bench(args.bench, ["--list", list_path])["best_seconds"]
        best["ptinfer"] = s if best["ptinfer"] is None else min(best["ptinfer"], s)
        s = pil_round(files, transform)
        best["pil"] = s if best["pil"] is None else min(best["pil"], s)

    n = len(files)
    result = {"images": n, "rounds": args.rounds, "checked_equal": check, "runners": {}}
    print("| runner (1 thread, best of %d) | img/s | ms/img | x PIL |" % args.rounds)
    print("|---|---|---|---|")
    for name, label in [("ptinfer", "ptinfer decode+transform"),
                        ("pil", "PIL + torchvision transforms")]:
        ips = n / best[name]
        ratio = best["pil"] / best[name]
        result["runners"][name] = {"seconds": best[name], "images_per_second": ips,
                                   "ratio_vs_pil": ratio}
        print("| %s | %.1f | %.3f | %.2f |" % (label, ips, 1e3 * best[name] / n, ratio))
    print("%d of %d images checked bit-identical to torchvision" % (check, n))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
