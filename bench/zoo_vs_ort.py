#!/usr/bin/python3
"""The general fast path across the zoo against ONNX Runtime and PyTorch eager (issue 21).

    /usr/bin/python3 bench/zoo_vs_ort.py [--archs mobilenet_v3_large,...] [--batch-sizes 1,32]
        [--rounds 1] [--work DIR] [--json FILE] [--ptinfer BIN]

For each architecture runs bench/anchors.py with the paths ptinfer fp32, ptinfer bf16 (--amp
O2), PyTorch eager fp32 and ONNX Runtime fp32 (the model exported from Debian's PyTorch by
torch.onnx.export), interleaved within the architecture's run, on the same random weights, and
with bench/silicon_peak measured in the same run. Then prints one table: img/s, ptinfer / ONNX
Runtime (fp32 and bf16 against ORT's fp32), ptinfer fp32 / eager, the share of the silicon
ceiling, and peak RSS beside eager's, with the geometric means over the architectures.
ORT needs `npm install --ignore-scripts` in bench/node once.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_ARCHS = ("mobilenet_v3_large,efficientnet_b0,regnet_y_1_6gf,densenet121,convnext_tiny,"
                 "vit_b_16,swin_t,resnet50")
PATHS = "ptinfer_fp32,ptinfer_bf16,eager,ort"


def geomean(values):
    values = [v for v in values if v]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def fmt(v, digits=2):
    return "-" if v is None else "%.*f" % (digits, v)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--archs", default=DEFAULT_ARCHS)
    p.add_argument("--batch-sizes", default="1,32")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "ptinfer-anchors"))
    p.add_argument("--json", help="write every architecture's anchors.py results here")
    p.add_argument("--ptinfer", help="passed to anchors.py")
    a = p.parse_args()
    batch_sizes = [int(b) for b in a.batch_sizes.split(",")]
    results = {}
    for arch in [s for s in a.archs.split(",") if s]:
        out = os.path.join(a.work, "zoo_%s.json" % arch)
        cmd = [sys.executable, os.path.join(HERE, "anchors.py"), "--arch", arch, "--paths", PATHS,
               "--batch-sizes", a.batch_sizes, "--rounds", str(a.rounds), "--work", a.work,
               "--json", out]
        if a.ptinfer:
            cmd += ["--ptinfer", a.ptinfer]
        print("==== %s" % " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        with open(out) as f:
            results[arch] = json.load(f)

    def ips(doc, path, b):
        row = doc["paths"].get(path)
        return row["images_per_second"][str(b)] if row else None

    def ratio(doc, num, den, b):
        x, y = ips(doc, num, b), ips(doc, den, b)
        return x / y if x and y else None

    print("\n| model | bs | ptinfer fp32 img/s | bf16 | ORT fp32 | eager fp32 | fp32 / ORT | "
          "bf16 / ORT fp32 | fp32 / eager | fp32 % of peak | bf16 % of peak | "
          "peak RSS MiB ptinfer fp32 / eager |")
    print("|---" * 12 + "|")
    means = {}
    for b in batch_sizes:
        for arch, doc in results.items():
            share = doc["percent_of_peak"]
            row = [ratio(doc, "ptinfer_fp32", "ort", b), ratio(doc, "ptinfer_bf16", "ort", b),
                   ratio(doc, "ptinfer_fp32", "eager", b)]
            for k, v in enumerate(row):
                means.setdefault((b, k), []).append(v)
            rss = lambda n: doc["paths"][n]["peak_rss_mib"] if n in doc["paths"] else None
            print("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
                arch, b, fmt(ips(doc, "ptinfer_fp32", b)), fmt(ips(doc, "ptinfer_bf16", b)),
                fmt(ips(doc, "ort", b)), fmt(ips(doc, "eager", b)), fmt(row[0]), fmt(row[1]),
                fmt(row[2]), fmt(share.get("ptinfer_fp32", {}).get(str(b)), 0),
                fmt(share.get("ptinfer_bf16", {}).get(str(b)), 0), fmt(rss("ptinfer_fp32"), 0),
                fmt(rss("eager"), 0)))
        print("| geometric mean | %d | | | | | %s | %s | %s | | | |" % (
            b, fmt(geomean(means[(b, 0)])), fmt(geomean(means[(b, 1)])),
            fmt(geomean(means[(b, 2)]))))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
