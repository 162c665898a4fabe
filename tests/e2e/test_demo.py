"""The README's demo: the committed Fashion-MNIST checkpoint validated on all 10,000 test images
prints an Acc@1 of at least 90% that equals what PyTorch computes on the same images."""
import json
import os
import subprocess
import sys
import unittest

import common

CKPT = os.path.join(common.SOURCE_DIR, "demo", "fashion_mnist_resnet18.pth.tar")
PREPROCESS = ["--resize-size", "28", "--crop-size", "28", "--mean", "0.2860", "0.2860", "0.2860",
              "--std", "0.3530", "0.3530", "0.3530"]


class Demo(unittest.TestCase):
    def test_demo_accuracy_equals_pytorch_and_is_at_least_90(self):
        tmp = common.scratch_dir(self, "ptinfer_demo_")
        data = os.path.join(common.BINARY_DIR, "demo_data", "fashion-mnist")
        subprocess.run([sys.executable, os.path.join(common.SCRIPTS, "make_fashion_mnist_folder.py"),
                        "--out", os.path.join(data, "val")], check=True)
        ours_json, ref_json = os.path.join(tmp, "ours.json"), os.path.join(tmp, "ref.json")
        ours_csv, ref_csv = os.path.join(tmp, "ours.csv"), os.path.join(tmp, "ref.csv")
        proc = common.run_ptinfer(["validate", "--data", data, "-a", "resnet18", "--resume", CKPT,
                                   "-b", "250", "--json", ours_json, "--predictions", ours_csv]
                                  + PREPROCESS)
        common.run_reference(["--data", data, "-a", "resnet18", "--resume", CKPT, "-b", "250",
                              "--json", ref_json, "--predictions", ref_csv] + PREPROCESS)
        with open(ours_json) as f:
            ours = json.load(f)["summary"]
        with open(ref_json) as f:
            ref = json.load(f)["summary"]
        self.assertEqual(ours["images"], 10000)
        self.assertEqual(ours["correct1"], ref["correct1"])
        self.assertEqual(ours["correct5"], ref["correct5"])
        self.assertGreaterEqual(ours["acc1"], 90.0)
        self.assertIn(" * Acc@1 %.3f Acc@5 %.3f" % (ref["acc1"], ref["acc5"]), proc.stdout)
        ours_rows, ref_rows = common.read_csv(ours_csv), common.read_csv(ref_csv)
        self.assertEqual([(r["path"], r["top1"]) for r in ours_rows],
                         [(r["path"], r["top1"]) for r in ref_rows])


if __name__ == "__main__":
    unittest.main()
