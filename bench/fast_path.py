#!/usr/bin/python3
"""The engine's fast path against the plain eager module, interleaved in one run.

    PTINFER=build/ptinfer /usr/bin/python3 bench/fast_path.py [--arch resnet50]
        [--batch-sizes 1,32] [--rounds 2] [--iters 5] [--warmup 2] [--amp O0,O2]

For each round and each --amp level, runs `ptinfer bench` three times back to back: the plain
module (--no-fast-path), the fast path with oneDNN called directly (the default), and the fast
path made of LibTorch ops (PTINFER_FAST_PATH_KERNELS=torch). Prints img/s (best of the rounds)
and the ratio to the plain module of the same --amp level measured in the same run.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

VARIANTS = [  # (name, extra flags, extra environment)
    ("plain (--no-fast-path)", ["--no-fast-path"], {}),
    ("fast, oneDNN (default)", [], {"PTINFER_FAST_PATH_KERNELS": "onednn"}),
    ("fast, LibTorch ops", [], {"PTINFER_FAST_PATH_KERNELS": "torch"}),
]


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
    best = {}  # (amp, variant, batch) -> img/s
    tmp = tempfile.mkdtemp(prefix="ptinfer_fast_path_")
    for r in range(args.rounds):
        for amp in args.amp.split(","):
            for name, flags, env in VARIANTS:
                out = os.path.join(tmp, "bench.json")
                cmd = [exe, "bench", "-a", args.arch, "--batch-size"] + [str(b) for b in batches] + [
                       "--iters", str(args.iters), "--warmup", str(args.warmup), "--amp", amp,
                       "--json", out] + flags
                subprocess.run(cmd, check=True, env={**os.environ, **env},
                               stdout=subprocess.DEVNULL)
                with open(out) as f:
                    for row in json.load(f)["rows"]:
                        key = (amp, name, row["batch_size"])
                        best[key] = max(best.get(key, 0.0), row["images_per_second"])
                print(f"round {r + 1}: {amp} {name} done", file=sys.stderr, flush=True)
    print(f"{args.arch}, img/s (best of {args.rounds} interleaved rounds, {args.iters} calls "
          f"each), x = ratio to the plain module at the same --amp")
    print("| --amp | path | " + " | ".join(f"bs {b}" for b in batches) + " |")
    print("|---|---|" + "---|" * len(batches))
    for amp in args.amp.split(","):
        for name, _, _ in VARIANTS:
            cells = []
            for b in batches:
                v, base = best[(amp, name, b)], best[(amp, VARIANTS[0][0], b)]
                cells.append(f"{v:.2f} ({v / base:.2f}x)")
            print(f"| {amp} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
