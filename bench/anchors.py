#!/usr/bin/python3
"""ptinfer against what users would run instead, in one process tree, interleaved: img/s per batch
size of `ptinfer bench` (fp32, --amp O2 bf16, and both with --no-fast-path where the binary has
that flag) and the anchors of issue 5:

  eager         PyTorch 1.13 eager fp32 (Debian's /usr/bin/python3), glibc malloc as shipped
  eager_nommap  same, GLIBC_TUNABLES=glibc.malloc.mmap_max=0
  ts_fp32       TorchScript script + freeze + optimize_for_inference, fp32, channels_last
                (+ no mmap)
  ts_bf16       bf16 weights + TorchScript script + freeze, channels_last (+ no mmap)
  ort           ONNX Runtime CPU fp32 through npm's onnxruntime-node (bench/node), all graph
                optimizations, the ONNX file exported from the same weights by torch.onnx.export

Every path loads the same weights (random, fixed seed, saved once under --work), uses the same
number of intra-op threads (default: the cores this process may use) and is timed the same way:
--warmup untimed calls per batch size, then calls until at least --iters calls and --seconds
seconds; img/s = batch * calls / timed seconds. Each (round, path) is a fresh process; rounds go
round-robin over the paths (the order rotated each round) and the table shows the median over
rounds; with more than one round a second table gives ptinfer / each path within each round (the
two ran minutes apart at most, so the spread shows how far the host's noise moves one ratio). In
the first round every anchor also computes logits for one fixed input, compared with
PyTorch eager's (max abs diff, relative L2, top-1 agreement), so that the comparison is fair.

The ceiling: bench/silicon_peak (built beside ptinfer, build/bench/silicon_peak) measures this
CPU's fp32 FMA and bf16 dot-product GFLOP/s on the same threads before the first round and after
the last; each row's "% of peak" is its img/s x the model's GFLOP per image (convolutions and fc,
counted by anchor_worker.py prepare) over the higher of the two peaks of its precision. A path that
saves multiplications (Winograd) can pass 100%.

Usage (from a checkout with build/ptinfer; ORT needs `npm install --ignore-scripts` in bench/node):
  /usr/bin/python3 bench/anchors.py [--arch resnet50] [--image-size 224] [--batch-sizes 1,32]
      [--rounds 3] [--warmup 1] [--iters 2] [--seconds 1.5] [--threads N] [--paths a,b,...]
      [--work DIR] [--ptinfer BIN] [--silicon-peak BIN] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

import bench_setup

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"
NO_MMAP = "glibc.malloc.mmap_max=0"
NODE_DIR = os.path.join(HERE, "node")
ALL_PATHS = ["ptinfer_fp32", "ptinfer_bf16", "ptinfer_fp32_nofast", "ptinfer_bf16_nofast", "eager",
             "eager_nommap", "ts_fp32", "ts_bf16", "ort"]
# Which ptinfer row each path is compared with.
REFERENCE = {"fp32": "ptinfer_fp32", "bf16": "ptinfer_bf16"}


def usable_cores():
    return len(os.sched_getaffinity(0))


def ptinfer_has_flag(binary, flag):
    out = subprocess.run([binary, "bench", "--help"], capture_output=True, text=True)
    return flag in out.stdout + out.stderr


def ort_scratch_dir(work):
    """The TMPDIR given to node: libonnxruntime leaves a mat-debug-<pid>.log and a .ses file in
    its temp dir on every load, so they go under `work` rather than /tmp."""
    path = os.path.join(work, "ort-tmp")
    os.makedirs(path, exist_ok=True)
    return path


def ort_unavailable_reason(node, work):
    """None when bench/node can run onnxruntime-node, else why not."""
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "onnxruntime-node")):
        return ("bench/node/node_modules is absent (run: cd bench/node && "
                "npm install --ignore-scripts)")
    try:
        out = subprocess.run([node, "-e", "require('onnxruntime-node')"], cwd=NODE_DIR,
                             capture_output=True, text=True,
                             env=dict(os.environ, TMPDIR=ort_scratch_dir(work)))
    except OSError as e:
        return "cannot run %s: %s" % (node, e)
    if out.returncode != 0:
        return "onnxruntime-node does not load: %s" % out.stderr.strip()[-300:]
    return None


def define_paths(fast_path_flag, ort_version):
    """name -> {label, precision} for every known path (what runs is decided in main)."""
    paths = {
        "ptinfer_fp32": ("ptinfer bench, fp32" + (" (fast path)" if fast_path_flag else ""),
                         "fp32"),
        "ptinfer_bf16": ("ptinfer bench --amp O2, bf16" + (" (fast path)" if fast_path_flag
                                                             else ""), "bf16"),
        "ptinfer_fp32_nofast": ("ptinfer bench --no-fast-path, fp32", "fp32"),
        "ptinfer_bf16_nofast": ("ptinfer bench --no-fast-path --amp O2, bf16", "bf16"),
        "eager": ("PyTorch eager fp32, glibc malloc as shipped", "fp32"),
        "eager_nommap": ("PyTorch eager fp32, GLIBC_TUNABLES=%s" % NO_MMAP, "fp32"),
        "ts_fp32": ("TorchScript script+freeze+optimize_for_inference fp32 channels_last, no mmap",
                    "fp32"),
        "ts_bf16": ("TorchScript bf16 weights + freeze, channels_last, no mmap", "bf16"),
        "ort": ("ONNX Runtime %s CPU fp32 (onnxruntime-node)" % ort_version, "fp32"),
    }
    return {k: {"label": v[0], "precision": v[1]} for k, v in paths.items()}


class Runner:
    """Builds and runs one (round, path) process; returns its parsed JSON and peak RSS."""

    def __init__(self, args, prep):
        self.a = args
        self.prep = prep
        self.bs = ",".join(str(b) for b in args.batch_sizes)
        self.env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
        self.env.setdefault("PTINFER_LOG_DIR", os.path.join(args.work, "logs"))

    def command(self, name, check_dir, check):
        a, p = self.a, self.prep
        env = dict(self.env)
        timing = ["--warmup", str(a.warmup), "--iters", str(a.iters), "--seconds", str(a.seconds)]
        if name.startswith("ptinfer"):
            out = os.path.join(check_dir, name + ".bench.json")
            cmd = [a.ptinfer, "bench", "-a", a.arch, "--resume", p["ckpt"], "--crop-size",
                   str(a.image_size), "--threads", str(a.threads), "--json", out] + timing
            for b in a.batch_sizes:
                cmd += ["-b", str(b)]
            if "bf16" in name:
                cmd += ["--amp", "O2"]
            if name.endswith("_nofast"):
                cmd += ["--no-fast-path"]
            return cmd, env, out
        if name == "ort":
            env["TMPDIR"] = ort_scratch_dir(a.work)
            cmd = [a.node, os.path.join(NODE_DIR, "ort_bench.js"), "--model", p["onnx"],
                   "--image-size", str(a.image_size), "--batch-sizes", self.bs, "--threads",
                   str(a.threads)] + timing
            if check:
                cmd += ["--check-in", p["check_f32"], "--check-batch", str(p["check_shape"][0]),
                        "--check-out", os.path.join(check_dir, "ort.f32")]
            return cmd, env, None
        worker_path = "eager" if name.startswith("eager") else name
        if name != "eager":
            env["GLIBC_TUNABLES"] = NO_MMAP
        cmd = [PYTHON, os.path.join(HERE, "anchor_worker.py"), "run", "--path", worker_path,
               "--ckpt", p["ckpt"], "--arch", a.arch, "--image-size", str(a.image_size),
               "--batch-sizes", self.bs, "--threads", str(a.threads)] + timing
        if check:
            cmd += ["--check-in", p["check_npy"], "--check-out",
                    os.path.join(check_dir, name + ".npy")]
        return cmd, env, None

    def run(self, name, check_dir, check):
        cmd, env, json_file = self.command(name, check_dir, check)
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, text=True)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            err.seek(0)
            stdout, stderr = out.read(), err.read()
        if proc.returncode != 0:
            raise SystemExit("anchors: %s failed (exit %d):\n%s\n%s" %
                             (" ".join(cmd), proc.returncode, stdout[-2000:], stderr[-4000:]))
        if json_file:
            with open(json_file) as f:
                result = json.load(f)
        else:
            result = json.loads(stdout.strip().splitlines()[-1])
        result["peak_rss_mib"] = usage.ru_maxrss / 1024.0
        return result


def measure_silicon(binary, threads):
    """bench_setup.measure_silicon, printing why when it cannot run (then None)."""
    result, why = bench_setup.measure_silicon(binary, threads)
    if result is None:
        print("no silicon ceiling: %s" % why, flush=True)
    return result


def compare_logits(check_dir, names, prep):
    """For each anchor that wrote logits: agreement with PyTorch eager's on the same input."""
    ref_file = os.path.join(check_dir, "eager.npy")
    if not os.path.exists(ref_file):
        return {}
    ref = np.load(ref_file).astype(np.float64)
    checks = {}
    for name in names:
        if name == "eager" or name.startswith("ptinfer"):
            continue
        if name == "ort":
            f = os.path.join(check_dir, "ort.f32")
            got = np.fromfile(f, dtype="<f4").reshape(ref.shape) if os.path.exists(f) else None
        else:
            f = os.path.join(check_dir, name + ".npy")
            got = np.load(f) if os.path.exists(f) else None
        if got is None:
            continue
        got = got.astype(np.float64)
        checks[name] = {
            "max_abs_diff": float(np.abs(got - ref).max()),
            "max_abs_reference": float(np.abs(ref).max()),
            "rel_l2": float(np.linalg.norm(got - ref) / np.linalg.norm(ref)),
            "top1_agree": int((got.argmax(1) == ref.argmax(1)).sum()),
            "images": int(ref.shape[0]),
        }
    return checks


def print_checks(checks, prep):
    if checks:
        print("logits vs PyTorch eager on one fixed %s input:" % "x".join(
            str(d) for d in prep["check_shape"]))
        for n, c in checks.items():
            print("  %-14s max abs diff %.3g (max |logit| %.3g), relL2 %.3g, top-1 agrees %d/%d" %
                  (n, c["max_abs_diff"], c["max_abs_reference"], c["rel_l2"], c["top1_agree"],
                   c["images"]))
    print("  (ptinfer's own logits are checked against PyTorch by its test suite, not here)",
          flush=True)


def fmt(v, digits=2):
    return "-" if v is None else "%.*f" % (digits, v)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--batch-sizes", type=lambda s: [int(v) for v in s.split(",")],
                   default=[1, 32])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1, help="untimed calls per batch size")
    p.add_argument("--iters", type=int, default=2, help="at least this many timed calls")
    p.add_argument("--seconds", type=float, default=1.5, help="and at least this long")
    p.add_argument("--threads", type=int, default=usable_cores())
    p.add_argument("--paths", default=",".join(ALL_PATHS),
                   help="comma-separated subset of: " + ",".join(ALL_PATHS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "ptinfer-anchors"))
    p.add_argument("--ptinfer", default=bench_setup.ptinfer_binary())
    p.add_argument("--silicon-peak", help="the silicon_peak binary (default: bench/silicon_peak "
                   "in --ptinfer's build folder)")
    p.add_argument("--node", default="node")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    wanted = [s for s in a.paths.split(",") if s]
    for s in wanted:
        if s not in ALL_PATHS:
            p.error("--paths: unknown path '%s' (known: %s)" % (s, ",".join(ALL_PATHS)))
    if a.rounds < 1 or a.iters < 1 or a.warmup < 0 or a.seconds < 0 or a.threads < 1:
        p.error("--rounds, --iters, --threads must be >= 1; --warmup, --seconds >= 0")
    if not os.access(a.ptinfer, os.X_OK):
        p.error("no ptinfer binary at %s (build it, or pass --ptinfer / set $PTINFER)" % a.ptinfer)
    a.work = os.path.abspath(a.work)
    os.makedirs(a.work, exist_ok=True)
    loadavg_start = os.getloadavg()

    skipped = {}
    fast_path_flag = ptinfer_has_flag(a.ptinfer, "--no-fast-path")
    ort_reason = ort_unavailable_reason(a.node, a.work) if "ort" in wanted else None
    ort_version = ""
    if ort_reason is None and "ort" in wanted:
        with open(os.path.join(NODE_DIR, "node_modules", "onnxruntime-node", "package.json")) as f:
            ort_version = json.load(f)["version"]
    meta = define_paths(fast_path_flag, ort_version)
    names = []
    for s in wanted:
        if s.endswith("_nofast") and not fast_path_flag:
            skipped[s] = "%s bench has no --no-fast-path flag" % a.ptinfer
        elif s == "ort" and ort_reason:
            skipped[s] = ort_reason
        else:
            names.append(s)
    for s, why in skipped.items():
        print("skipping %s: %s" % (s, why), flush=True)

    print("preparing weights (%s, seed %d), ONNX export and check input in %s" %
          (a.arch, a.seed, a.work), flush=True)
    prep_out = subprocess.run([PYTHON, os.path.join(HERE, "anchor_worker.py"), "prepare", "--work",
                               a.work, "--arch", a.arch, "--image-size", str(a.image_size),
                               "--seed", str(a.seed)] + (["--onnx"] if "ort" in names else []),
                              capture_output=True, text=True)
    if prep_out.returncode != 0:
        raise SystemExit("anchors: prepare failed:\n%s" % prep_out.stderr[-4000:])
    prep = json.loads(prep_out.stdout.strip().splitlines()[-1])

    if a.silicon_peak is None:
        a.silicon_peak = bench_setup.silicon_peak_binary(a.ptinfer)
    silicon = [measure_silicon(a.silicon_peak, a.threads)]

    runner = Runner(a, prep)
    check_dir = tempfile.mkdtemp(prefix="checks_", dir=a.work)
    per_round = {n: [] for n in names}
    peak_rss = {n: 0.0 for n in names}
    threads_seen = {}  # intra-op threads each path reported using
    started = time.time()
    for r in range(a.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            t0 = time.time()
            res = runner.run(n, check_dir, check=(r == 0))
            ips = {row["batch_size"]: row["images_per_second"] for row in res["rows"]}
            per_round[n].append(ips)
            peak_rss[n] = max(peak_rss[n], res["peak_rss_mib"])
            threads_seen[n] = res.get("threads")
            print("round %d/%d %-20s %s  (%.1f s)" % (
                r + 1, a.rounds, n, "  ".join("bs %d: %.2f img/s" % (b, ips[b])
                                              for b in a.batch_sizes), time.time() - t0),
                  flush=True)
        if r == 0:  # every anchor has written its logits for the check input by now
            checks = compare_logits(check_dir, names, prep)
            print_checks(checks, prep)

    silicon.append(measure_silicon(a.silicon_peak, a.threads))
    gflop = prep["gflop_per_image"]
    # The higher of the two measurements per precision: the machine's speed drifts with its load.
    peak = {}
    if all(silicon):
        for prec in ("fp32", "bf16"):
            seen = [m[prec] for m in silicon if m[prec]]
            peak[prec] = max(seen) if seen else None

    median = {n: {b: statistics.median(x[b] for x in per_round[n]) for b in a.batch_sizes}
              for n in names}
    share = {n: {b: (100.0 * median[n][b] * gflop / peak[meta[n]["precision"]]
                     if peak.get(meta[n]["precision"]) else None) for b in a.batch_sizes}
             for n in names}
    # Each row against the ptinfer row of its own precision (ptinfer's img/s / the row's).
    ratios = {n: {b: median[REFERENCE[meta[n]["precision"]]][b] / median[n][b]
                  for b in a.batch_sizes}
              for n in names if REFERENCE[meta[n]["precision"]] in median}

    # The same ratio within each round: the two runs sat next to each other in time, so the
    # host's slow spells move both; its spread says how much one run's ratio can be trusted.
    round_ratios = {n: {b: [ref[b] / x[b] for ref, x in
                            zip(per_round[REFERENCE[meta[n]["precision"]]], per_round[n])]
                        for b in a.batch_sizes}
                    for n in names if REFERENCE[meta[n]["precision"]] in median}

    print("\n%s %dx%d, %d intra-op threads, median of %d rounds (%.0f s); load average %.1f at "
          "start, %.1f at end" % (a.arch, a.image_size, a.image_size, a.threads, a.rounds,
                                 time.time() - started, loadavg_start[0], os.getloadavg()[0]))
    if peak:
        print("silicon (%s, %d threads, before / after the rounds): fp32 %s / %s GFLOP/s, bf16 "
              "%s / %s GFLOP/s; %s is %.2f GFLOP per image, so the ceilings are fp32 %s img/s, "
              "bf16 %s img/s" % (
                  a.silicon_peak, a.threads, fmt(silicon[0]["fp32"], 0),
                  fmt(silicon[1]["fp32"], 0), fmt(silicon[0]["bf16"], 0),
                  fmt(silicon[1]["bf16"], 0), a.arch, gflop,
                  fmt(peak["fp32"] / gflop if peak["fp32"] else None, 1),
                  fmt(peak["bf16"] / gflop if peak["bf16"] else None, 1)))
    cols = ["img/s bs %d" % b for b in a.batch_sizes]
    cols += ["ptinfer / this, bs %d" % b for b in a.batch_sizes]
    cols += ["%% of peak, bs %d" % b for b in a.batch_sizes]
    print("| path | " + " | ".join(cols) + " | peak RSS MiB |")
    print("|---" * (len(cols) + 2) + "|")
    for n in names:
        cells = [fmt(median[n][b]) for b in a.batch_sizes]
        cells += [fmt(ratios.get(n, {}).get(b)) for b in a.batch_sizes]
        cells += [fmt(share[n][b], 0) for b in a.batch_sizes]
        print("| %s | %s | %.0f |" % (meta[n]["label"], " | ".join(cells), peak_rss[n]))
    print("(ptinfer / this: img/s of `ptinfer bench` in the same precision (fp32: %s, bf16: %s)"
          " divided by this row's; %% of peak: GFLOP/s done over the silicon ceiling of its "
          "precision)" % (REFERENCE["fp32"], REFERENCE["bf16"]))
    if a.rounds > 1:
        print("\nptinfer / this within each round (rounds in order):")
        print("| path | " + " | ".join("bs %d" % b for b in a.batch_sizes) + " |")
        print("|---" * (len(a.batch_sizes) + 1) + "|")
        for n in names:
            if n in round_ratios and n != REFERENCE[meta[n]["precision"]]:
                print("| %s | %s |" % (meta[n]["label"], " | ".join(
                    ", ".join(fmt(v) for v in round_ratios[n][b]) for b in a.batch_sizes)))

    if a.json:
        doc = {
            "arch": a.arch, "image_size": a.image_size, "batch_sizes": a.batch_sizes,
            "threads": a.threads, "rounds": a.rounds, "warmup": a.warmup, "iters": a.iters,
            "seconds": a.seconds, "seed": a.seed, "ptinfer": a.ptinfer,
            "fast_path_flag": fast_path_flag, "loadavg_start": loadavg_start[0],
            "loadavg_end": os.getloadavg()[0],
            "paths": {n: {"label": meta[n]["label"], "precision": meta[n]["precision"],
                          "images_per_second": {str(b): median[n][b] for b in a.batch_sizes},
                          "rounds": [{str(b): x[b] for b in a.batch_sizes} for x in per_round[n]],
                          "peak_rss_mib": peak_rss[n], "threads": threads_seen[n]}
                      for n in names},
            "ratio_reference": REFERENCE,
            "ratios": {n: {str(b): v for b, v in row.items()} for n, row in ratios.items()},
            "round_ratios": {n: {str(b): v for b, v in row.items()}
                             for n, row in round_ratios.items()},
            "checks": checks, "skipped": skipped,
            "gflop_per_image": gflop, "silicon": silicon, "silicon_peak_gflops": peak,
            "percent_of_peak": {n: {str(b): v for b, v in row.items()} for n, row in share.items()},
        }
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=2)


if __name__ == "__main__":
    main()
