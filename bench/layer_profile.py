#!/usr/bin/python3
"""Where a forward's time goes, layer by layer: runs `ptinfer bench` (the fast path, whose every
layer is one oneDNN primitive) with ONEDNN_VERBOSE=1 and reads oneDNN's per-primitive execution
times back.

For each primitive of one call (`ptinfer bench`'s timed unit), in execution order: its kind and
the kernel oneDNN picked, the problem (oneDNN's shape string), the median time over the timed
calls, the GFLOP/s it reached (2 x multiply-adds of a direct convolution or inner product: a
Winograd kernel's figure is the direct-equivalent rate and can pass the peak) and that as % of
this CPU's measured peak of the precision (bench/silicon_peak beside the binary, on the same
threads). Then totals per kind, and their sum against bench's own mean latency (the rest is the
input copy, oneDNN's dispatch and the gaps between primitives).

Usage: /usr/bin/python3 bench/layer_profile.py [--ptinfer BIN] [--arch resnet50] [-b 1]
           [--crop-size 224] [--amp O0] [--threads N] [--warmup 3] [--iters 10] [--json FILE]
"""
import argparse
import collections
import json
import os
import re
import statistics
import subprocess
import sys

import bench_setup

# oneDNN's problem strings: "[gG]mbN_icCocO_ihHohHkhK..._iwWowWkwK..." and "mbNicC[ihH][iwW]ocO".
CONV = re.compile(r"^(?:g(\d+))?mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+)"
                  r".*_iw(\d+)ow(\d+)kw(\d+)")
INNER_PRODUCT = re.compile(r"^mb(\d+)ic(\d+)(?:ih(\d+))?(?:iw(\d+))?oc(\d+)")


def flop_of(kind, problem):
    """2 x the multiply-adds of a convolution or inner product given oneDNN's problem string;
    0 for other primitives."""
    if kind == "convolution":
        m = CONV.match(problem)
        if m:
            g = int(m.group(1) or 1)
            mb, ic, oc, _, oh, kh, _, ow, kw = (int(v) for v in m.groups()[1:])
            return 2 * mb * (ic // g) * oc * oh * ow * kh * kw
    if kind == "inner_product":
        m = INNER_PRODUCT.match(problem)
        if m:
            mb, ic, ih, iw, oc = (int(v) if v else 1 for v in m.groups())
            return 2 * mb * ic * ih * iw * oc
    return 0


def parse_verbose(text):
    """[(kind, kernel, problem, ms)] for every executed primitive, in order."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("onednn_verbose,exec,cpu,"):
            continue
        f = line.split(",")
        rows.append((f[3], f[4], f[-2], float(f[-1])))
    return rows


def per_call(rows, calls, timed):
    """One call's primitives in order, each with its median time over the last `timed` calls:
    [(kind, kernel, problem, ms)], and the forwards a call runs. A call runs its batch as one
    forward, or as consecutive forwards of at most PTINFER_FAST_PATH_MAX_BATCH images; every
    forward ends with the model's one inner product, so the log splits there. The first call also
    runs one-time weight reorders; only the last `timed` calls are read."""
    forwards, current = [], []
    for r in rows:
        current.append(r)
        if r[0] == "inner_product":
            forwards.append(current)
            current = []
    if current and forwards:
        forwards[-1].extend(current)
    if not forwards or len(forwards) % calls:
        raise SystemExit("layer_profile: %d forwards in oneDNN's log for %d calls" %
                         (len(forwards), calls))
    per = len(forwards) // calls
    last = [sum(forwards[len(forwards) - (k + 1) * per:len(forwards) - k * per], [])
            for k in range(timed)]
    if any([r[:3] for r in c] != [r[:3] for r in last[0]] for c in last):
        raise SystemExit("layer_profile: the last %d calls ran different primitives" % timed)
    return [last[0][i][:3] + (statistics.median(c[i][3] for c in last),)
            for i in range(len(last[0]))], per


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ptinfer", default=bench_setup.ptinfer_binary())
    p.add_argument("--arch", default="resnet50")
    p.add_argument("-b", "--batch-size", type=int, default=1)
    p.add_argument("--crop-size", type=int, default=224)
    p.add_argument("--amp", default="O0")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--json", help="also write the rows and totals here")
    a = p.parse_args()
    if a.batch_size < 1 or a.threads < 1 or a.warmup < 1 or a.iters < 1:
        p.error("--batch-size, --threads, --warmup and --iters must be >= 1")

    cmd = [a.ptinfer, "bench", "-a", a.arch, "-b", str(a.batch_size), "--crop-size",
           str(a.crop_size), "--amp", a.amp, "--threads", str(a.threads), "--warmup",
           str(a.warmup), "--iters", str(a.iters)]
    env = dict(os.environ, ONEDNN_VERBOSE="1", DNNL_VERBOSE="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit("layer_profile: %s failed (exit %d):\n%s" %
                         (" ".join(cmd), proc.returncode, proc.stderr[-3000:]))
    rows, forwards = per_call(parse_verbose(proc.stdout + "\n" + proc.stderr),
                              a.warmup + a.iters, a.iters)
    latency = re.search(r"latency mean ([0-9.]+) ms", proc.stdout + proc.stderr)
    precision = "fp32" if a.amp == "O0" else "bf16"
    measured, _ = bench_setup.measure_silicon(bench_setup.silicon_peak_binary(a.ptinfer),
                                              a.threads)
    peak = measured[precision] if measured else None

    print("%s %dx%d batch %d (%d forward%s per call), --amp %s, %d threads; median over the "
          "last %d calls per primitive" % (a.arch, a.crop_size, a.crop_size, a.batch_size,
                                           forwards, "" if forwards == 1 else "s", a.amp,
                                           a.threads, a.iters))
    print("%s peak (bench/silicon_peak): %s GFLOP/s" %
          (precision, "%.0f" % peak if peak else "unknown"))
    print("| # | primitive | kernel | problem | ms | GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|---|")
    by_kind = collections.OrderedDict()
    total_ms = total_flop = 0.0
    table = []
    for i, (kind, kernel, problem, ms) in enumerate(rows):
        flop = flop_of(kind, problem)
        gflops = flop / ms / 1e6 if flop and ms > 0 else None
        share = 100.0 * gflops / peak if gflops and peak else None
        print("| %d | %s | %s | %s | %.3f | %s | %s |" % (
            i, kind, kernel, problem, ms, "%.0f" % gflops if gflops else "-",
            "%.0f" % share if share else "-"))
        key = kind + (" 1x1" if kind == "convolution" and "kh1" in problem else "")
        if kind == "convolution" and "wino" in kernel:
            key = "convolution winograd"
        k = by_kind.setdefault(key, [0, 0.0, 0.0])
        k[0] += 1
        k[1] += ms
        k[2] += flop
        total_ms += ms
        total_flop += flop
        table.append({"kind": kind, "kernel": kernel, "problem": problem, "ms": ms,
                      "flop": flop, "gflops": gflops, "percent_of_peak": share})
    print()
    print("| primitives | count | ms per call | share | GFLOP/s |")
    print("|---|---|---|---|---|")
    for key, (count, ms, flop) in by_kind.items():
        print("| %s | %d | %.2f | %.0f%% | %s |" % (key, count, ms, 100.0 * ms / total_ms,
                                                   "%.0f" % (flop / ms / 1e6) if flop else "-"))
    mean = float(latency.group(1)) if latency else None
    print("sum of primitives %.2f ms (%.2f GFLOP) against bench's mean latency %s ms" %
          (total_ms, total_flop / 1e9, "%.2f" % mean if mean else "unknown"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"arch": a.arch, "batch_size": a.batch_size, "forwards_per_call": forwards,
                       "crop_size": a.crop_size,
                       "amp": a.amp, "threads": a.threads, "peak_gflops": peak,
                       "rows": table, "total_ms": total_ms, "total_gflop": total_flop / 1e9,
                       "bench_mean_latency_ms": mean}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
