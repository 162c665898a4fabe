"""What every validate benchmark starts from: a generated ImageNet-like ImageFolder, a checkpoint
in the guide's format with random weights, and the ptinfer binary to run; and what several
scripts read back: the silicon ceiling (bench/silicon_peak) and `--predictions` files."""
import csv
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def prepare(work, images, arch, num_classes=1000):
    """Returns (data folder, checkpoint path) under `work`, made once and reused. The folder is
    per image count, so runs with different counts never share a half-overwritten folder."""
    data = os.path.join(work, "imagenet_like_%d" % images)
    subprocess.run([sys.executable, os.path.join(HERE, "make_imagenet_like.py"), "--out",
                    os.path.join(data, "val"), "--images", str(images)], check=True)
    ckpt = os.path.join(work, "%s_%d.pth.tar" % (arch, num_classes))
    if not os.path.exists(ckpt):
        sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
        import common
        common.make_guide_checkpoint(ckpt, arch, num_classes)
    return data, ckpt


def ptinfer_binary():
    """$PTINFER, else build/ptinfer."""
    return os.environ.get("PTINFER", os.path.join(ROOT, "build", "ptinfer"))


def silicon_peak_binary(ptinfer):
    """bench/silicon_peak in the build folder of the `ptinfer` binary."""
    return os.path.join(os.path.dirname(os.path.abspath(ptinfer)), "bench", "silicon_peak")


def measure_silicon(binary, threads, seconds=1.0):
    """Runs `binary --threads T --seconds S --json`. Returns ({"fp32": GFLOP/s, "bf16": GFLOP/s
    or None, "kernels": every kernel's figures}, None), or (None, why not) when it cannot run.
    fp32 / bf16: the fastest kernel of that precision on `threads` threads."""
    if not os.access(binary, os.X_OK):
        return None, "%s is absent (build the silicon_peak target)" % binary
    out = subprocess.run([binary, "--threads", str(threads), "--seconds", str(seconds), "--json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None, "%s failed: %s" % (binary, out.stderr.strip())
    gflops = json.loads(out.stdout.strip().splitlines()[-1])["gflops"]
    best = {}
    for prec in ("fp32", "bf16"):
        seen = [k[str(threads)] for name, k in gflops.items() if name.startswith(prec)]
        best[prec] = max(seen) if seen else None
    return dict(best, kernels=gflops), None


def top1_of(csv_path):
    """image path -> top-1 class of a `ptinfer validate --predictions` file."""
    with open(csv_path, newline="") as f:
        return {r["path"]: r["top1"] for r in csv.DictReader(f)}
