"""bench/layer_profile.py: one forward's oneDNN primitives read back from ONEDNN_VERBOSE, with
FLOPs that must add up to the model's (counted independently by PyTorch forward hooks in
bench/anchor_worker.py), batches the fast path slices, and usage errors. (Speed is not asserted.)"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import common

BENCH = os.path.join(common.SOURCE_DIR, "bench")
PROFILE = os.path.join(BENCH, "layer_profile.py")
sys.path.insert(0, BENCH)
import anchor_worker  # noqa: E402


def run_profile(args):
    env = dict(os.environ, PTINFER_LOG_DIR=os.path.join(tempfile.gettempdir(), "ptinfer-test-logs"))
    return subprocess.run([sys.executable, PROFILE, "--ptinfer", common.PTINFER] + args,
                          capture_output=True, text=True, env=env, timeout=600)


class LayerProfile(unittest.TestCase):
    def profile(self, arch, size, batch):
        out = os.path.join(common.scratch_dir(self, "ptinfer_layer_profile_"), "p.json")
        proc = run_profile(["--arch", arch, "--crop-size", str(size), "-b", str(batch),
                            "--threads", "1", "--warmup", "1", "--iters", "3", "--json", out])
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        with open(out) as f:
            return json.load(f), proc.stdout

    def test_one_forward_adds_up_to_the_models_flops(self):
        result, stdout = self.profile("resnet18", 64, 1)
        kinds = [r["kind"] for r in result["rows"]]
        self.assertEqual(kinds.count("inner_product"), 1)
        # resnet18: the stem, 16 in the blocks, 3 downsamples
        self.assertEqual(kinds.count("convolution"), 20)
        self.assertEqual(result["forwards_per_call"], 1)
        want = anchor_worker.gflop_per_image("resnet18", 64)
        self.assertAlmostEqual(result["total_gflop"], want, places=9)
        for r in result["rows"]:
            self.assertGreater(r["ms"], 0.0, r)
            if r["kind"] == "convolution":
                self.assertGreater(r["gflops"], 0.0, r)
                if result["peak_gflops"]:
                    self.assertAlmostEqual(r["percent_of_peak"],
                                           100.0 * r["gflops"] / result["peak_gflops"], places=6)
        self.assertIn("| convolution 1x1 |", stdout)  # the downsample convs, in the totals
        self.assertIn("against bench's mean latency", stdout)

    def test_a_sliced_batch_is_profiled_per_call(self):
        # 10 images run as forwards of at most 8 (the fast path's default slice), then 2: the
        # profile holds both.
        result, stdout = self.profile("resnet18", 32, 10)
        self.assertEqual(result["forwards_per_call"], 2)
        want = 10 * anchor_worker.gflop_per_image("resnet18", 32)
        self.assertAlmostEqual(result["total_gflop"], want, places=9)
        self.assertIn("(2 forwards per call)", stdout)

    def test_bad_values_are_usage_errors(self):
        proc = run_profile(["-b", "0"])
        self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
        self.assertIn("--batch-size, --threads, --warmup and --iters must be >= 1", proc.stderr)


if __name__ == "__main__":
    unittest.main()
