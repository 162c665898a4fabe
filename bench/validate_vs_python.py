#!/usr/bin/python3
"""`ptinfer validate` against the guide's Python loop (torchvision ImageFolder + DataLoader with
workers + eager model under no_grad) on the same generated ImageNet-like images, the same
checkpoint and the same machine, interleaved in one run. Prints img/s, peak RSS and time to first
prediction (process start -> the first batch's logits: imports or dynamic loading, checkpoint
read, model build, the loader's first batch, the first forward) for each, and ratios against the
Python loop.

Usage: /usr/bin/python3 bench/validate_vs_python.py [--arch resnet50] [--images 256] [-b 32]
         [-j 2] [--repeats 2] [--amp O2] [--work DIR]
The Python loop runs twice per repeat: as Debian ships it, and with
GLIBC_TUNABLES=glibc.malloc.mmap_max=0 (the malloc setting ptinfer applies to itself).
--amp LEVEL adds a ptinfer run with that mixed-precision policy (bf16); its Acc@1 may differ from
the fp32 runners', and the share of images whose top-1 class equals fp32 ptinfer's is printed.
At the end the silicon ceiling is printed (bench/silicon_peak beside $PTINFER, on the cores this
process may use): the img/s the model's GFLOP allow at this CPU's fp32 and bf16 peaks, next to
what 10x the Python loop would need.
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
    p.add_argument("--amp", help="also run ptinfer validate --amp AMP (e.g. O2)")
    p.add_argument("--work", default="/tmp/ptinfer_bench")
    args = p.parse_args()

    data, ckpt = bench_setup.prepare(args.work, args.images, args.arch)
    ptinfer = bench_setup.ptinfer_binary()
    common_args = ["--data", data, "-a", args.arch, "--resume", ckpt, "-b", str(args.batch_size),
                   "-j", str(args.workers)]
    runners = {
        "ptinfer": lambda j: [ptinfer, "validate", "--print-freq", "0", "--json", j] + common_args,
        "ptinfer_amp": lambda j: [ptinfer, "validate", "--print-freq", "0", "--json", j,
                                  "--amp", args.amp, "--predictions",
                                  os.path.join(args.work, "amp_predictions.csv")] + common_args,
        "python": lambda j: [sys.executable, os.path.join(ROOT, "scripts", "reference_validate.py"),
                             "--json", j] + common_args,
    }
    variants = [("ptinfer", "ptinfer", {}),
                ("python (as shipped)", "python", {}),
                ("python + mmap_max=0", "python", {"GLIBC_TUNABLES": "glibc.malloc.mmap_max=0"})]
    if args.amp:
        variants.insert(1, ("ptinfer --amp " + args.amp, "ptinfer_amp", {}))
        runners["ptinfer"] = lambda j: [ptinfer, "validate", "--print-freq", "0", "--json", j,
                                        "--predictions",
                                        os.path.join(args.work, "fp32_predictions.csv")
                                        ] + common_args
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
    accs = {round(x[3]["acc1"], 6) for name, v in results.items() for x in v
            if not name.startswith("ptinfer --amp")}
    print("Acc@1 identical across the fp32 runners: %s" % (len(accs) == 1))
    if args.amp:
        fp32, amp = (bench_setup.top1_of(os.path.join(args.work, f))
                     for f in ("fp32_predictions.csv", "amp_predictions.csv"))
        same = sum(fp32[k] == amp[k] for k in fp32)
        print("ptinfer --amp %s: top-1 equal to fp32 ptinfer's on %d of %d images" %
              (args.amp, same, len(fp32)))
    print_ceiling(args.arch, anchor)


def print_ceiling(arch, python_ips):
    """The img/s this CPU's measured FMA / bf16-dot peak allows the model, against 10x Python."""
    threads = len(os.sched_getaffinity(0))
    peak, why = bench_setup.measure_silicon(
        bench_setup.silicon_peak_binary(bench_setup.ptinfer_binary()), threads)
    if peak is None:
        print("no silicon ceiling: %s" % why)
        return
    import anchor_worker
    gflop = anchor_worker.gflop_per_image(arch, 224)  # validate's default crop
    for prec in ("fp32", "bf16"):
        if peak[prec]:
            print("%s ceiling on %d cores: %.0f GFLOP/s / %.2f GFLOP per image = %.1f img/s "
                  "(10x the Python loop: %.1f img/s)" % (prec, threads, peak[prec], gflop,
                                                         peak[prec] / gflop, 10 * python_ips))


if __name__ == "__main__":
    main()
