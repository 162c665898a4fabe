#!/usr/bin/python3
"""`ptinfer validate --amp O0..O3` on the same generated ImageNet-like images and checkpoint,
interleaved in one run: img/s, peak RSS and Acc@1 (with its difference from O0) per policy and
batch size.

Usage: /usr/bin/python3 bench/amp_validate.py [--arch resnet50] [--images 128] [--batches 1,32]
         [--levels O0,O1,O2,O3] [-j 2] [--repeats 1] [--work DIR]
The checkpoint has random weights (1000 classes), so Acc@1 itself means nothing; the share of
images whose top-1 class equals the first policy's (O0) shows what the lower precision changes.
"""
import argparse
import json
import os
import subprocess
import sys

import bench_setup

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def run(cmd, json_path):
    out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "peak_rss.py")] + cmd,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("failed: %s\n%s\n%s" % (" ".join(cmd), out.stdout, out.stderr))
    rss = float(out.stdout.strip().splitlines()[-1].split()[-1])
    with open(json_path) as f:
        return json.load(f)["summary"], rss


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--images", type=int, default=128)
    p.add_argument("--batches", default="1,32")
    p.add_argument("--levels", default="O0,O1,O2,O3")
    p.add_argument("-j", "--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--work", default="/tmp/ptinfer_bench")
    args = p.parse_args()

    data, ckpt = bench_setup.prepare(args.work, args.images, args.arch)
    ptinfer = bench_setup.ptinfer_binary()
    levels = args.levels.split(",")
    batches = [int(b) for b in args.batches.split(",")]
    best = {}
    for r in range(args.repeats):
        for b in batches:
            for level in levels:
                j = os.path.join(args.work, "amp_summary.json")
                csv_path = os.path.join(args.work, "amp_%s.csv" % level)
                cmd = [ptinfer, "validate", "--data", data, "-a", args.arch, "--resume", ckpt,
                       "-b", str(b), "-j", str(args.workers), "--print-freq", "0",
                       "--timing-warmup", "1", "--amp", level, "--json", j,
                       "--predictions", csv_path]
                s, rss = run(cmd, j)
                top1 = bench_setup.top1_of(csv_path)
                ref = bench_setup.top1_of(os.path.join(args.work, "amp_%s.csv" % levels[0]))
                agree = 100.0 * sum(top1[k] == ref[k] for k in ref) / len(ref)
                print("run %d batch %2d %s: %7.2f img/s  peak RSS %6.0f MiB  Acc@1 %.3f  "
                      "top-1 = %s's: %.1f%%" % (r, b, level, s["images_per_second"], rss,
                                                s["acc1"], levels[0], agree), flush=True)
                key = (b, level)
                if key not in best or s["images_per_second"] > best[key][0]:
                    best[key] = (s["images_per_second"], rss, s["acc1"], agree)
    print()
    print("%s, %d images, %d workers, bf16, best of %d" %
          (args.arch, args.images, args.workers, args.repeats))
    print("| batch | policy | img/s | x O0 | peak RSS MiB | Acc@1 | Acc@1 - O0 | top-1 = O0 |")
    print("|---|---|---|---|---|---|---|---|")
    for b in batches:
        base = best[(b, levels[0])]
        for level in levels:
            ips, rss, acc, agree = best[(b, level)]
            print("| %d | %s | %.2f | %.2f | %.0f | %.3f | %+.3f | %.1f%% |" %
                  (b, level, ips, ips / base[0], rss, acc, acc - base[2], agree))


if __name__ == "__main__":
    main()
