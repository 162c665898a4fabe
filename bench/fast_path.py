#!/usr/bin/python3
"""The engine's fast path against the plain eager module, interleaved in one run.

    PTINFER=build/ptinfer /usr/bin/python3 bench/fast_path.py [--arch resnet50[,ARCH...]]
        [--batch-sizes 1,32] [--rounds 2] [--iters 5] [--warmup 2] [--amp O0,O2]

For each round, architecture and --amp level, runs `ptinfer bench` back to back: the plain
module (--no-fast-path), then each form of the fast path the architecture has: for the ResNets
the runner with oneDNN called directly (the default), the runner made of LibTorch ops
(PTINFER_FAST_PATH_KERNELS=torch) and the general graph (PTINFER_FAST_PATH_KERNELS=graph); for
every other model the general graph (fp32 only: under O2 it runs the plain module). Prints img/s
(best of the rounds) and the ratio to the plain module of the same --amp level measured in the
same run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

PLAIN = ("plain (--no-fast-path)", ["--no-fast-path"], {})
RESNET_VARIANTS = [  # (name, extra flags, extra environment)
    PLAIN,
    ("fast, ResNet runner, oneDNN (default)", [], {"PTINFER_FAST_PATH_KERNELS": "onednn"}),
    ("fast, ResNet runner, LibTorch ops", [], {"PTINFER_FAST_PATH_KERNELS": "torch"}),
    ("fast, general graph", [], {"PTINFER_FAST_PATH_KERNELS": "graph"}),
]
GRAPH_VARIANTS = [PLAIN, ("fast, general graph (default)", [], {})]


def variants_of(exe, arch):
    """The paths to measure for `arch`: the ResNet runner's too where `ptinfer models` says the
    architecture takes it."""
    rows = json.loads(subprocess.run([exe, "models", "--json", arch], check=True,
                                     capture_output=True, text=True).stdout)
    return RESNET_VARIANTS if rows[0]["fast_path_form"].startswith("resnet") else GRAPH_VARIANTS


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--batch-sizes", default="1,32")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--amp", default="O0,O2")
    args = p.parse_args()
    exe = os.environ.get("PTINFER", "build/ptinfer")
    batches = [int(b) for b in args.batch_sizes.split(",")]
    archs = args.arch.split(",")
    variants = {arch: variants_of(exe, arch) for arch in archs}
    best = {}  # (arch, amp, variant, batch) -> img/s
    tmp = tempfile.mkdtemp(prefix="ptinfer_fast_path_")
    for r in range(args.rounds):
        for arch in archs:
            for amp in args.amp.split(","):
                for name, flags, env in variants[arch]:
                    out = os.path.join(tmp, "bench.json")
                    cmd = [exe, "bench", "-a", arch, "--batch-size"] + [str(b) for b in batches] + [
                           "--iters", str(args.iters), "--warmup", str(args.warmup), "--amp", amp,
                           "--json", out] + flags
                    subprocess.run(cmd, check=True, env={**os.environ, **env},
                                   stdout=subprocess.DEVNULL)
                    with open(out) as f:
                        for row in json.load(f)["rows"]:
                            key = (arch, amp, name, row["batch_size"])
                            best[key] = max(best.get(key, 0.0), row["images_per_second"])
                    print(f"round {r + 1}: {arch} {amp} {name} done", file=sys.stderr, flush=True)
    print(f"img/s (best of {args.rounds} interleaved rounds, {args.iters} calls each), "
          f"x = ratio to the plain module at the same --amp")
    print("| arch | --amp | path | " + " | ".join(f"bs {b}" for b in batches) + " |")
    print("|---|---|---|" + "---|" * len(batches))
    for arch in archs:
        for amp in args.amp.split(","):
            for name, _, _ in variants[arch]:
                cells = []
                for b in batches:
                    v, base = best[(arch, amp, name, b)], best[(arch, amp, PLAIN[0], b)]
                    cells.append(f"{v:.2f} ({v / base:.2f}x)")
                print(f"| {arch} | {amp} | {name} | " + " | ".join(cells) + " |")

if __name__ == "__main__":
    main()
