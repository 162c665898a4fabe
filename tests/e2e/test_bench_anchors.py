"""bench/anchors.py in a tiny mode (resnet18 at 32x32, two rounds, one timed call per batch size):
every path runs and reports sane JSON, the ratios are computed from the medians, and the anchors'
logits agree with PyTorch eager. The ONNX Runtime path needs bench/node/node_modules (npm install
--ignore-scripts); without it the run must say why it skipped it. (Speed itself is not asserted.)"""
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import unittest

import common

ANCHORS = os.path.join(common.SOURCE_DIR, "bench", "anchors.py")
ORT_MODULE = os.path.join(common.SOURCE_DIR, "bench", "node", "node_modules", "onnxruntime-node")
BATCHES = [1, 2]


def run_anchors(args):
    env = dict(os.environ, PTINFER_LOG_DIR=os.path.join(tempfile.gettempdir(), "ptinfer-test-logs"))
    return subprocess.run([sys.executable, ANCHORS, "--ptinfer", common.PTINFER] + args,
                          capture_output=True, text=True, env=env, timeout=600)


class BenchAnchors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        work = common.scratch_dir(cls, "ptinfer_anchors_")
        out = os.path.join(work, "anchors.json")
        cls.proc = run_anchors(["--arch", "resnet18", "--image-size", "32", "--batch-sizes",
                                ",".join(map(str, BATCHES)), "--rounds", "2", "--warmup", "0",
                                "--iters", "1", "--seconds", "0", "--threads", "1", "--work",
                                work, "--json", out])
        if cls.proc.returncode != 0:
            raise AssertionError("anchors.py failed:\n%s\n%s" % (cls.proc.stdout, cls.proc.stderr))
        with open(out) as f:
            cls.result = json.load(f)
        help_text = common.run_ptinfer(["bench", "--help"]).stdout
        cls.has_no_fast_path = "--no-fast-path" in help_text

    def test_every_path_ran_or_says_why_not(self):
        r = self.result
        expected = ["ptinfer_fp32", "ptinfer_bf16", "eager", "eager_nommap", "ts_fp32", "ts_bf16"]
        for name in expected:
            self.assertIn(name, r["paths"])
        for name in ["ptinfer_fp32_nofast", "ptinfer_bf16_nofast"]:
            self.assertIn(name, r["paths"] if self.has_no_fast_path else r["skipped"])
        if os.path.isdir(ORT_MODULE):
            self.assertIn("ort", r["paths"])
        else:
            self.assertIn("node_modules is absent", r["skipped"]["ort"])
            self.assertIn("skipping ort: ", self.proc.stdout)

    def test_figures_are_sane(self):
        r = self.result
        self.assertEqual(r["batch_sizes"], BATCHES)
        self.assertEqual(r["threads"], 1)
        for name, p in r["paths"].items():
            self.assertEqual(sorted(p["images_per_second"]), sorted(str(b) for b in BATCHES))
            self.assertEqual(len(p["rounds"]), 2, name)
            for b in BATCHES:
                ips = p["images_per_second"][str(b)]
                self.assertTrue(math.isfinite(ips) and ips > 0, (name, b, ips))
                self.assertAlmostEqual(ips, statistics.median(x[str(b)] for x in p["rounds"]))
            self.assertGreater(p["peak_rss_mib"], 10, name)
            self.assertEqual(p["threads"], 1, name)  # what the path itself reported using
            self.assertIn(p["precision"], ["fp32", "bf16"])
            self.assertIn(p["label"], self.proc.stdout)

    def test_ratios_are_ptinfer_over_the_row_of_the_same_precision(self):
        r = self.result
        for name, row in r["ratios"].items():
            ref = r["ratio_reference"][r["paths"][name]["precision"]]
            for b in BATCHES:
                want = (r["paths"][ref]["images_per_second"][str(b)] /
                        r["paths"][name]["images_per_second"][str(b)])
                self.assertAlmostEqual(row[str(b)], want, places=9)
        self.assertEqual(r["ratios"]["ptinfer_fp32"]["1"], 1.0)
        self.assertIn("eager", r["ratios"])

    def test_round_ratios_pair_each_round_with_ptinfers_run_of_that_round(self):
        r = self.result
        self.assertEqual(sorted(r["round_ratios"]), sorted(r["ratios"]))
        for name, row in r["round_ratios"].items():
            ref = r["paths"][r["ratio_reference"][r["paths"][name]["precision"]]]["rounds"]
            mine = r["paths"][name]["rounds"]
            for b in BATCHES:
                want = [x[str(b)] / y[str(b)] for x, y in zip(ref, mine)]
                self.assertEqual(len(row[str(b)]), len(mine), (name, b))
                for got, w in zip(row[str(b)], want):
                    self.assertAlmostEqual(got, w, places=9)
        self.assertIn("ptinfer / this within each round", self.proc.stdout)

    def test_percent_of_peak_is_against_the_measured_silicon(self):
        r = self.result
        self.assertEqual(len(r["silicon"]), 2)  # before the first round and after the last
        silicon_peak = os.path.join(os.path.dirname(common.PTINFER), "bench", "silicon_peak")
        if not os.path.exists(silicon_peak):  # not built off x86-64 (bench/CMakeLists.txt)
            self.assertIn("no silicon ceiling: %s is absent" % silicon_peak, self.proc.stdout)
            for row in r["percent_of_peak"].values():
                self.assertEqual(set(row.values()), {None})
            return
        for m in r["silicon"]:
            self.assertGreater(m["fp32"], 1.0)
            self.assertIn("fp32_fma256", m["kernels"])
        peak = r["silicon_peak_gflops"]
        self.assertEqual(peak["fp32"], max(m["fp32"] for m in r["silicon"]))
        self.assertGreater(r["gflop_per_image"], 0.0)
        for name, p in r["paths"].items():
            ceiling = peak[p["precision"]]
            for b in BATCHES:
                got = r["percent_of_peak"][name][str(b)]
                if ceiling is None:  # bf16 on a CPU without AVX-512 BF16
                    self.assertIsNone(got)
                    continue
                want = 100.0 * p["images_per_second"][str(b)] * r["gflop_per_image"] / ceiling
                self.assertAlmostEqual(got, want, places=9)
        self.assertIn("so the ceilings are fp32 ", self.proc.stdout)

    def test_flop_count_matches_torchvisions_published_figures(self):
        # torchvision's model tables list resnet18 and resnet50 at 224x224 as 1.81 and 4.09
        # "GFLOPS" (multiply-adds); anchors.py counts 2 FLOP per multiply-add.
        sys.path.insert(0, os.path.join(common.SOURCE_DIR, "bench"))
        import anchor_worker
        self.assertAlmostEqual(anchor_worker.gflop_per_image("resnet18", 224) / 2, 1.81, places=2)
        self.assertAlmostEqual(anchor_worker.gflop_per_image("resnet50", 224) / 2, 4.09, places=2)

    def test_anchor_logits_agree_with_pytorch_eager(self):
        checks = self.result["checks"]
        bounds = {"eager_nommap": 1e-6, "ts_fp32": 1e-4, "ts_bf16": 0.05, "ort": 1e-4}
        for name, bound in bounds.items():
            if name not in self.result["paths"]:
                continue
            c = checks[name]
            self.assertLess(c["rel_l2"], bound, name)
            if bound < 0.01:  # fp32 anchors; bf16 may flip a close top-1 of random weights
                self.assertEqual(c["top1_agree"], c["images"], name)
            self.assertIn("%-14s max abs diff" % name, self.proc.stdout)

    def test_bad_arguments_are_usage_errors(self):
        for args, needle in [(["--paths", "eager,frob"], "--paths: unknown path 'frob'"),
                             (["--rounds", "0"], "--rounds, --iters, --threads must be >= 1")]:
            proc = run_anchors(args)
            self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
            self.assertIn(needle, proc.stderr)


if __name__ == "__main__":
    unittest.main()
