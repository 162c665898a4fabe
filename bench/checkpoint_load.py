#!/usr/bin/python3
"""Checkpoint load time and peak memory: `ptinfer inspect --no-match` against `torch.load` in
Python on the same file, in the same run, each load in its own process.

    /usr/bin/python3 bench/checkpoint_load.py [--archs resnet50,resnet152] [--legacy]
        [--repeat 3] [--work /tmp/ptinfer_bench_ckpt]

For each architecture it writes an fp32 checkpoint in the guide's format (epoch, arch,
DataParallel state_dict, no optimizer state; zip format, and with --legacy also
_use_new_zipfile_serialization=False) and measures, `repeat` times each:
  - torch.load(path, map_location='cpu'): its time (perf_counter around the call) and the
    process's peak RSS (bench/peak_rss.py), less the peak of `import torch` alone;
  - ptinfer inspect --no-match path: the load time it logs ("inspect: read ... in X ms") and
    its peak RSS, less the peak of the same command on a one-tensor checkpoint.
It prints the best time and the smallest peak of each, the time ratio ptinfer / torch.load and
each side's extra peak RSS / the checkpoint's tensor bytes (the goal for ptinfer: <= 1.3).
"""
import argparse
import os
import re
import subprocess
import sys

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_setup  # noqa: E402

PEAK_RSS = os.path.join(HERE, "peak_rss.py")
TORCH_LOAD = ("import sys, time, torch\n"
              "t = time.perf_counter()\n"
              "obj = torch.load(sys.argv[1], map_location='cpu')\n"
              "print('load_ms %.3f' % ((time.perf_counter() - t) * 1e3))\n")


def write_checkpoint(path, arch, legacy):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)()
    sd = {"module." + k: v for k, v in model.state_dict().items()}
    torch.save({"epoch": 90, "arch": arch, "state_dict": sd, "best_acc1": torch.tensor(76.1)},
               path, _use_new_zipfile_serialization=not legacy)
    return sum(t.numel() * t.element_size() for t in sd.values())


def measure(cmd, env=None):
    """(load_ms or None, peak_rss_mib) of one run of `cmd` under peak_rss.py."""
    full_env = dict(os.environ, PTINFER_LOG_STDOUT="1", **(env or {}))
    proc = subprocess.run([sys.executable, PEAK_RSS] + cmd, capture_output=True, text=True,
                          env=full_env)
    if proc.returncode != 0:
        raise SystemExit("failed: %s\n%s\n%s" % (" ".join(cmd), proc.stdout, proc.stderr))
    peak = float(re.search(r"peak_rss_mib ([\d.]+)", proc.stdout).group(1))
    m = re.search(r"load_ms ([\d.]+)", proc.stdout) or \
        re.search(r"inspect: read .* in ([\d.]+) ms", proc.stdout)
    return (float(m.group(1)) if m else None), peak


def best(cmd, repeat):
    runs = [measure(cmd) for _ in range(repeat)]
    times = [t for t, _ in runs if t is not None]
    return (min(times) if times else None), min(p for _, p in runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default="resnet50,resnet152")
    parser.add_argument("--legacy", action="store_true", help="also the legacy (non-zip) format")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", default="/tmp/ptinfer_bench_ckpt")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    ptinfer = bench_setup.ptinfer_binary()

    tiny = os.path.join(args.work, "tiny.pth")
    torch.save({"w": torch.zeros(1)}, tiny)
    py_base = best([sys.executable, "-c", "import torch"], args.repeat)[1]
    pt_base = best([ptinfer, "inspect", "--no-match", tiny], args.repeat)[1]
    print("baseline peak RSS: python+torch %.1f MiB, ptinfer inspect (1 tensor) %.1f MiB"
          % (py_base, pt_base))
    header = ("%-10s %-6s %9s | %10s %10s %6s | %10s %10s %8s %8s"
              % ("arch", "format", "tensorMiB", "torch ms", "ptinfer ms", "ratio",
                 "torch MiB", "ptinf MiB", "torch/x", "ptinf/x"))
    print(header)
    print("-" * len(header))
    for arch in args.archs.split(","):
        for legacy in ([False, True] if args.legacy else [False]):
            path = os.path.join(args.work, "%s%s.pth.tar" % (arch, "_legacy" if legacy else ""))
            tensor_bytes = write_checkpoint(path, arch, legacy)
            mib = tensor_bytes / 2**20
            t_ms, t_peak = best([sys.executable, "-c", TORCH_LOAD, path], args.repeat)
            p_ms, p_peak = best([ptinfer, "inspect", "--no-match", path], args.repeat)
            print("%-10s %-6s %9.1f | %10.1f %10.1f %6.2f | %10.1f %10.1f %8.2f %8.2f"
                  % (arch, "legacy" if legacy else "zip", mib, t_ms, p_ms, p_ms / t_ms,
                     t_peak - py_base, p_peak - pt_base, (t_peak - py_base) / mib,
                     (p_peak - pt_base) / mib))
    print("ratio: ptinfer load time / torch.load time; *MiB: peak RSS above the baseline; "
          "*/x: that over the tensor bytes (goal for ptinfer <= 1.3)")


if __name__ == "__main__":
    main()
