"""End to end: `ptinfer validate` against the guide's Python loop on a generated ImageFolder and
a checkpoint in the guide's format: the same top-5 for every image, the same Acc@1/Acc@5."""
import json
import os
import time
import unittest

import common


class ValidateParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_parity_")
        classes = ["cat", "dog", "eel", "fox", "gnu", "hen", "owl"]
        common.make_image_folder(os.path.join(cls.tmp, "data", "val"), classes, per_class=5)
        cls.ckpt = common.make_guide_checkpoint(os.path.join(cls.tmp, "checkpoint.pth.tar"),
                                                "resnet18", num_classes=len(classes))
        cls.ref_csv = os.path.join(cls.tmp, "ref.csv")
        cls.ref_json = os.path.join(cls.tmp, "ref.json")
        common.run_reference(["--data", os.path.join(cls.tmp, "data"), "-a", "resnet18",
                              "--resume", cls.ckpt, "-b", "8", "--predictions", cls.ref_csv,
                              "--json", cls.ref_json])
        cls.ref = common.read_csv(cls.ref_csv)
        # The reference must be meaningful: finite probabilities, not all the same class.
        for r in cls.ref:
            assert all(0.0 <= float(r["score%d" % k]) <= 1.0 for k in range(1, 6)), r
        assert len({r["top1"] for r in cls.ref}) > 1, "reference predicts one class only"
        with open(cls.ref_json) as f:
            cls.ref_summary = json.load(f)["summary"]

    def run_validate(self, *extra):
        csv_path = os.path.join(self.tmp, "ours%d.csv" % len(os.listdir(self.tmp)))
        json_path = csv_path + ".json"
        start = time.time()
        proc = common.run_ptinfer(["validate", "--data", os.path.join(self.tmp, "data"),
                                   "-a", "resnet18", "--resume", self.ckpt, "-b", "8",
                                   "--predictions", csv_path, "--json", json_path] + list(extra))
        proc.wall_seconds = time.time() - start
        with open(json_path) as f:
            return proc, common.read_csv(csv_path), json.load(f)

    def assert_same_predictions(self, ours, ref):
        self.assertEqual(len(ours), len(ref))
        for a, b in zip(ours, ref):
            self.assertEqual(a["path"], b["path"])
            self.assertEqual(a["target"], b["target"])
            for k in range(1, 6):
                self.assertEqual(a["top%d" % k], b["top%d" % k], a["path"])
                self.assertAlmostEqual(float(a["score%d" % k]), float(b["score%d" % k]),
                                       delta=1e-4, msg=a["path"])

    def test_top5_of_every_image_and_accuracy_equal_pytorch(self):
        proc, ours, summary = self.run_validate()
        self.assert_same_predictions(ours, self.ref)
        s = summary["summary"]
        self.assertEqual(s["images"], 35)
        self.assertEqual(s["correct1"], self.ref_summary["correct1"])
        self.assertEqual(s["correct5"], self.ref_summary["correct5"])
        self.assertIn(" * Acc@1 %.3f Acc@5 %.3f" % (self.ref_summary["acc1"],
                                                    self.ref_summary["acc5"]), proc.stdout)
        self.assertIn("Test: [0/5]", proc.stdout)
        self.assertIn("=> loaded checkpoint '%s' (epoch 3)" % self.ckpt, proc.stdout)
        # The first prediction comes after the process started and before it ended; the peak
        # resident set holds at least the model's weights (resnet18: 11.7M floats, 45 MiB).
        self.assertGreater(s["seconds_to_first_prediction"], 0)
        self.assertLess(s["seconds_to_first_prediction"], proc.wall_seconds)
        self.assertGreater(s["peak_rss_mib"], 45)
        self.assertIn("=> first prediction ", proc.stdout)

    def test_bicubic_resize_equals_pytorch(self):
        # transforms.Resize(255, interpolation=BICUBIC) + CenterCrop(240), as several
        # torchvision weights preprocess: the images are downscaled and upscaled.
        sizes = ["--resize-size", "255", "--crop-size", "240"]
        ref_csv = os.path.join(self.tmp, "bicubic_ref.csv")
        common.run_reference(["--data", os.path.join(self.tmp, "data"), "-a", "resnet18",
                              "--resume", self.ckpt, "-b", "8", "--interpolation", "bicubic",
                              "--predictions", ref_csv] + sizes)
        ref = common.read_csv(ref_csv)
        _, ours, summary = self.run_validate("--interpolation", "bicubic", *sizes)
        self.assertEqual(summary["config"]["interpolation"], "bicubic")
        self.assert_same_predictions(ours, ref)
        # The flag reaches the resize: bilinear at the same sizes gives other scores.
        _, bilinear, summary = self.run_validate(*sizes)
        self.assertEqual(summary["config"]["interpolation"], "bilinear")
        self.assertTrue(any(abs(float(a["score1"]) - float(b["score1"])) > 1e-4
                            for a, b in zip(bilinear, ref)))

    def test_worker_count_and_shuffle_do_not_change_results(self):
        _, ours, summary = self.run_validate("-j", "3", "-b", "4", "--shuffle", "--seed", "7")
        by_path = {r["path"]: r for r in ours}
        self.assert_same_predictions([by_path[r["path"]] for r in self.ref], self.ref)
        self.assertNotEqual([r["path"] for r in ours], [r["path"] for r in self.ref])
        self.assertEqual(summary["summary"]["correct1"], self.ref_summary["correct1"])

    def test_guide_command_line_runs_unchanged(self):
        proc, _, summary = self.run_validate("--epochs", "90", "--lr", "0.1", "--wd", "1e-4",
                                             "--batch_size", "8", "--workers", "2")
        self.assertIn("--epochs, --lr, --wd: training flags", proc.stdout)
        self.assertEqual(summary["config"]["unused_flags"], ["--epochs", "--lr", "--wd"])

    def test_pretrained_weights_from_the_torch_hub_cache(self):
        import torch
        import torchvision
        home = os.path.join(self.tmp, "torch_home")
        os.makedirs(os.path.join(home, "hub", "checkpoints"), exist_ok=True)
        torch.manual_seed(11)
        weights = os.path.join(home, "hub", "checkpoints", "resnet18-f37072fd.pth")
        torch.save(torchvision.models.resnet18().state_dict(), weights)
        ref_csv = os.path.join(self.tmp, "pretrained_ref.csv")
        small = ["--resize-size", "64", "--crop-size", "56"]
        common.run_reference(["--data", os.path.join(self.tmp, "data"), "-a", "resnet18",
                              "--resume", weights, "--predictions", ref_csv] + small)
        ours_csv = os.path.join(self.tmp, "pretrained_ours.csv")
        proc = common.run_ptinfer(["validate", "--data", os.path.join(self.tmp, "data"), "-a",
                                   "resnet18", "--pretrained", "--predictions", ours_csv] + small,
                                  env={"TORCH_HOME": home})
        self.assert_same_predictions(common.read_csv(ours_csv), common.read_csv(ref_csv))
        self.assertIn(" * Acc@1", proc.stdout)


if __name__ == "__main__":
    unittest.main()
