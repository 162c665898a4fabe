#!/usr/bin/python3
"""`ptinfer validate` against the guide's Python loop (torchvision ImageFolder + DataLoader with
workers + eager model under no_grad) on the same generated ImageNet-like images, the same
checkpoint and the same machine, interleaved in one run. Prints img/s, peak RSS and time to first
prediction (process start -> the first batch's logits: imports or dynamic loading, checkpoint
read, model build, the loader's first batch, the first forward) for each, and ratios against the
Python loop.

Usage: /usr/bin/python3 bench/validate_vs_python.py [--arch resnet50] [--images 256] [-b 32]
         [-j 2] [--repeats 2] [--work DIR]
The Python loop runs twice per repeat: as Debian ships it, and with
GLIBC_TUNABLES=glibc.malloc.mmap_max=0 (the malloc setting ptinfer applies to itself).
"""
import argparse
import json
import os
import subprocess
import sys

import bench_setup
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def measure(cmd, json_path, env_extra=None):
    """Runs cmd; returns (the JSON summary it wrote, its stdout, wall seconds)."""
    env = dict(os.environ)
    env.update(env_extra or {})
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    out, err = proc.communicate()
    wall = time.time() - start
    if proc.returncode != 0:
        raise SystemExit("failed: %s\n%s\n%s" % (" ".join(cmd), out, err))
    with open(json_path) as f:
        summary = json.load(f)["summary"]
    return summary, out, wall


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--images", type=int, default=256)
    p.add_argument("-b", "--batch-size", type=int, default=32)
    p.add_argument("-j", "--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--work", default="/tmp/ptinfer_bench")
    args = p.parse_args()

    data, ckpt = bench_setup.prepare(args.work, args.images, args.arch)
    ptinfer = bench_setup.ptinfer_binary()
    common_args = ["--data", data, "-a", args.arch, "--resume", ckpt, "-b", str(args.batch_size),
                   "-j", str(args.workers)]
    runners = {
        "ptinfer": lambda j: [ptinfer, "validate", "--print-freq", "0", "--json", j] + common_args,
        "python": lambda j: [sys.executable, os.path.join(ROOT, "scripts", "reference_validate.py"),
                             "--json", j] + common_args,
    }
    variants = [("ptinfer", "ptinfer", {}),
                ("python (as shipped)", "python", {}),
                ("python + mmap_max=0", "python", {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0"})]
    results = {name: [] for name, _, _ in variants}
    for r in range(args.repeats):
        for name, runner, env in variants:
            j = os.path.join(args.work, "summary.json")
            time_cmd = ["/usr/bin/python3", os.path.join(HERE, "peak_rss.py")]
            summary, out, wall = measure(time_cmd + runners[runner](j), j, env)
            rss = float(out.strip().splitlines()[-1].split()[-1])
            results[name].append((summary["images_per_second"], rss, wall, summary))
            print("run %d %-22s %7.2f img/s  peak RSS %7.0f MiB  first prediction %5.2f s  "
                  "wall %6.1f s  Acc@1 %.3f" %
                  (r, name, summary["images_per_second"], rss,
                   summary["seconds_to_first_prediction"], wall, summary["acc1"]), flush=True)
    print()
    print("%s, batch %d, %d workers, %d images (best of %d runs)" %
          (args.arch, args.batch_size, args.workers, args.images, args.repeats))
    anchor = max(x[0] for x in results["python (as shipped)"])
    anchor2 = max(x[0] for x in results["python + mmap_max=0"])
    anchor_rss = min(x[1] for x in results["python (as shipped)"])
    anchor_ttfp = min(x[3]["seconds_to_first_prediction"] for x in results["python (as shipped)"])
    print("| runner | img/s | x python | x python+mmap_max=0 | peak RSS MiB | RSS x python | "
          "first prediction s | first prediction x python |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _, _ in variants:
        best = max(results[name], key=lambda x: x[0])
        rss = min(x[1] for x in results[name])
        ttfp = min(x[3]["seconds_to_first_prediction"] for x in results[name])
        print("| %s | %.2f | %.2f | %.2f | %.0f | %.2f | %.2f | %.2f |" %
              (name, best[0], best[0] / anchor, best[0] / anchor2, rss, rss / anchor_rss, ttfp,
               ttfp / anchor_ttfp))
    accs = {round(x[3]["acc1"], 6) for v in results.values() for x in v}
    print("Acc@1 identical across runners: %s" % (len(accs) == 1))


if __name__ == "__main__":
    main()
