"""bench/input_pipeline.py in a tiny mode (10 images, one round): ptinfer's per-image tensors
equal torchvision's bit for bit, both runners are timed and the JSON is sane; the bench binary
names a corrupt image and exits non-zero. (Speed itself is not asserted.)"""
import json
import os
import subprocess
import sys
import unittest

import common

SCRIPT = os.path.join(common.SOURCE_DIR, "bench", "input_pipeline.py")
BENCH = os.path.join(common.BINARY_DIR, "bench", "input_pipeline_bench")


class BenchInputPipeline(unittest.TestCase):
    def test_tiny_run_checks_equality_and_reports_both_runners(self):
        work = common.scratch_dir(self, "ptinfer_pipeline_")
        out = os.path.join(work, "pipeline.json")
        proc = subprocess.run([sys.executable, SCRIPT, "--images", "10", "--rounds", "1",
                               "--check", "10", "--work", work, "--bench", BENCH, "--json", out],
                              capture_output=True, text=True, timeout=600)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        with open(out) as f:
            r = json.load(f)
        self.assertEqual(r["images"], 10)
        self.assertEqual(r["checked_equal"], 10)
        for name in ["ptinfer", "pil"]:
            runner = r["runners"][name]
            self.assertGreater(runner["seconds"], 0)
            self.assertAlmostEqual(runner["images_per_second"], 10 / runner["seconds"], places=3)
        self.assertAlmostEqual(r["runners"]["pil"]["ratio_vs_pil"], 1.0)
        self.assertIn("10 of 10 images checked bit-identical", proc.stdout)

    def test_corrupt_image_is_named_and_fails(self):
        work = common.scratch_dir(self, "ptinfer_pipeline_bad_")
        bad = os.path.join(work, "broken.jpg")
        with open(bad, "wb") as f:
            f.write(b"\xff\xd8\xff\xe0 not really a jpeg")
        listing = os.path.join(work, "list.txt")
        with open(listing, "w") as f:
            f.write(bad + "\n")
        proc = subprocess.run([BENCH, "--list", listing], capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(bad, proc.stderr)
        proc = subprocess.run([BENCH, "--list", listing, "--bogus", "1"], capture_output=True,
                              text=True, timeout=60)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("unknown flag --bogus", proc.stderr)


if __name__ == "__main__":
    unittest.main()
