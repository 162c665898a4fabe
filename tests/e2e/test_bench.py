"""`ptinfer bench`: one row per batch size with the calls asked for, time to first prediction,
peak RSS, and clear errors for bad values. (Speed itself is measured in bench/, not asserted.)"""
import json
import os
import unittest

import common


class Bench(unittest.TestCase):
    def test_rows_per_batch_size_from_a_checkpoint(self):
        tmp = common.scratch_dir(self, "ptinfer_bench_")
        ckpt = common.make_guide_checkpoint(os.path.join(tmp, "m.pth"), "resnet18", 5)
        out = os.path.join(tmp, "bench.json")
        proc = common.run_ptinfer(["bench", "-a", "resnet18", "--resume", ckpt, "-b", "1", "-b",
                                   "3", "--iters", "4", "--warmup", "1", "--crop-size", "64",
                                   "--threads", "1", "--json", out])
        with open(out) as f:
            result = json.load(f)
        self.assertEqual([r["batch_size"] for r in result["rows"]], [1, 3])
        for r in result["rows"]:
            self.assertEqual(r["calls"], 4)
            self.assertGreater(r["images_per_second"], 0)
            self.assertLessEqual(r["p50_ms"], r["p99_ms"])
        self.assertGreater(result["seconds_to_first_prediction"], 0)
        self.assertGreater(result["peak_rss_mib"], 10)
        self.assertEqual(result["threads"], 1)
        self.assertIn("resnet18 batch 3:", proc.stdout)

    def test_default_threads_are_the_usable_cores_with_omp_binding_too(self):
        # libgomp binds the initial thread to one CPU before main when OMP_PROC_BIND is set; the
        # default thread count must still be the CPUs this process may use.
        cores = len(os.sched_getaffinity(0))
        tmp = common.scratch_dir(self, "ptinfer_bench_threads_")
        for env in [{}, {"OMP_PROC_BIND": "true"}, {"OMP_PLACES": "cores"}]:
            out = os.path.join(tmp, "bench.json")
            common.run_ptinfer(["bench", "-a", "resnet18", "-b", "1", "--iters", "1", "--warmup",
                                "0", "--crop-size", "32", "--json", out],
                               env=dict(env, OMP_NUM_THREADS=None, PTINFER_NUM_THREADS=None))
            with open(out) as f:
                self.assertEqual(json.load(f)["threads"], cores, env)

    def test_bad_values_are_errors(self):
        for args, needle in [(["-b", "0"], "--batch-size must be >= 1"),
                             (["--iters", "0"], "--iters must be >= 1"),
                             (["--warmup", "-1"], "--warmup must be >= 0"),
                             (["--frob"], "ERROR: Unknown command line arg: --frob")]:
            proc = common.run_ptinfer(["bench", "-a", "resnet18", "--crop-size", "32"] + args,
                                      check=False)
            self.assertEqual(proc.returncode, 2, proc.stdout + proc.stderr)
            self.assertIn(needle, proc.stdout + proc.stderr)


if __name__ == "__main__":
    unittest.main()
