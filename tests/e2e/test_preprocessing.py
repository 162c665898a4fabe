"""--preprocessing guide|model. `model` runs the architecture's preset: the same top-5 for every
image as the guide's Python loop preprocessing with torchvision's own
get_model_weights(arch).DEFAULT.transforms(); explicit flags replace single fields of it;
validate notes a preset that differs from what runs, and nothing when they agree.

efficientnet_b0 is the small architecture with a bicubic preset (Resize(256, BICUBIC) +
CenterCrop(224)); test_serve_store.py serves shufflenet_v2_x1_5's Resize(232) preset."""
import glob
import json
import os
import unittest

import common

ARCH = "efficientnet_b0"  # DEFAULT weights (IMAGENET1K_V1): Resize(256, BICUBIC), CenterCrop(224)
SAME = "shufflenet_v2_x0_5"  # DEFAULT weights declare the guide's Resize(256), CenterCrop(224)
NOTE = ("=> note: efficientnet_b0's weights were trained with resize 256, crop 224, bicubic; "
        "running resize 256, crop 224, bilinear (--preprocessing model selects the preset)")


class Preprocessing(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_preprocessing_")
        cls.data = common.make_image_folder(os.path.join(cls.tmp, "data"), ["a", "b", "c"], 3)
        images = sorted(glob.glob(os.path.join(cls.data, "*", "*")))
        cls.ckpt = common.make_calibrated_checkpoint(os.path.join(cls.tmp, "b0.pth.tar"), ARCH,
                                                     3, images)
        cls.same_ckpt = common.make_calibrated_checkpoint(os.path.join(cls.tmp, "x0_5.pth.tar"),
                                                          SAME, 3, images)
        cls.preset_ref = cls.reference("--weights-transforms")

    @classmethod
    def reference(cls, *extra):
        """The guide's Python loop's predictions for ARCH (reference_validate.py)."""
        path = os.path.join(cls.tmp, "ref%d.csv" % len(os.listdir(cls.tmp)))
        common.run_reference(["--data", cls.data, "-a", ARCH, "--resume", cls.ckpt, "-b", "4",
                              "--predictions", path] + list(extra))
        return common.read_csv(path)

    def validate(self, *extra, arch=ARCH, ckpt=None):
        """stdout, predictions, --json report and log text of one validate run."""
        csv_path = os.path.join(self.tmp, "ours%d.csv" % len(os.listdir(self.tmp)))
        logs = csv_path + ".logs"
        proc = common.run_ptinfer(["validate", "--data", self.data, "-a", arch, "--resume",
                                   ckpt or self.ckpt, "-b", "4", "--predictions", csv_path,
                                   "--json", csv_path + ".json"] + list(extra),
                                  env={"PTINFER_LOG_DIR": logs})
        with open(csv_path + ".json") as f:
            report = json.load(f)
        (log,) = glob.glob(os.path.join(logs, "ptinfer-*.log"))
        with open(log) as f:
            log_text = f.read()
        return proc.stdout, common.read_csv(csv_path), report["config"], log_text

    def assert_same_predictions(self, ours, ref):
        self.assertEqual([r["path"] for r in ours], [r["path"] for r in ref])
        for a, b in zip(ours, ref):
            for k in range(1, 4):
                self.assertEqual(a["top%d" % k], b["top%d" % k], a["path"])
                self.assertAlmostEqual(float(a["score%d" % k]), float(b["score%d" % k]),
                                       delta=1e-4, msg=a["path"])

    def test_model_runs_the_weights_transforms(self):
        stdout, ours, config, log = self.validate("--preprocessing", "model")
        self.assert_same_predictions(ours, self.preset_ref)
        self.assertEqual((config["resize_size"], config["crop_size"], config["interpolation"]),
                         (256, 224, "bicubic"))
        self.assertEqual(config["preprocessing"]["source"], "model")
        self.assertEqual(config["preprocessing"]["explicit"], [])
        self.assertEqual(config["preprocessing"]["preset"]["interpolation"], "bicubic")
        self.assertNotIn("=> note:", stdout)
        self.assertNotIn("note:", log)

    def test_guide_is_the_default_and_notes_the_preset(self):
        stdout, ours, config, log = self.validate()
        self.assertIn(NOTE + "\n", stdout)
        self.assertIn(NOTE[len("=> "):], log)
        self.assertEqual((config["resize_size"], config["crop_size"], config["interpolation"]),
                         (256, 224, "bilinear"))
        self.assertEqual(config["preprocessing"]["source"], "guide")
        # The guide's numbers, which here are not the preset's.
        self.assert_same_predictions(ours, self.reference())
        self.assertTrue(any(abs(float(a["score1"]) - float(b["score1"])) > 1e-2
                            for a, b in zip(ours, self.preset_ref)))

    def test_no_note_when_the_preset_is_the_guides(self):
        stdout, _, config, log = self.validate(arch=SAME, ckpt=self.same_ckpt)
        self.assertNotIn("=> note:", stdout)
        self.assertNotIn("note:", log)
        self.assertEqual(config["preprocessing"]["preset"]["resize_size"], 256)

    def test_explicit_flags_replace_fields_of_the_preset(self):
        extra = ["--crop-size", "200", "--resize-size", "240"]
        stdout, ours, config, _ = self.validate("--preprocessing", "model", *extra)
        self.assert_same_predictions(ours, self.reference("--weights-transforms", *extra))
        self.assertEqual((config["resize_size"], config["crop_size"], config["interpolation"]),
                         (240, 200, "bicubic"))  # the preset's filter stays
        self.assertEqual(config["preprocessing"]["explicit"], ["resize_size", "crop_size"])
        self.assertIn("=> note: efficientnet_b0's weights were trained with resize 256, crop 224, "
                      "bicubic; running resize 240, crop 200, bicubic (--resize-size, --crop-size "
                      "replacing the preset's)\n", stdout)
        # And the other way: the guide's sizes with the preset's filter named explicitly.
        stdout, ours, config, _ = self.validate("--interpolation", "bicubic")
        self.assert_same_predictions(ours, self.preset_ref)
        self.assertEqual(config["preprocessing"], {"source": "guide",
                                                   "explicit": ["interpolation"],
                                                   "preset": config["preprocessing"]["preset"]})
        self.assertNotIn("=> note:", stdout)

    def test_predict_takes_the_preset(self):
        out = os.path.join(self.tmp, "predict.json")
        common.run_ptinfer(["predict", "-a", ARCH, "--resume", self.ckpt, "--preprocessing",
                            "model", "--topk", "1", "--json", out, self.data])
        with open(out) as f:
            ours = {r["path"]: r["topk"][0] for r in json.load(f)}
        ref = self.preset_ref
        self.assertEqual(sorted(ours), sorted(r["path"] for r in ref))
        for r in ref:
            self.assertEqual(ours[r["path"]]["index"], int(r["top1"]), r["path"])
            self.assertAlmostEqual(ours[r["path"]]["score"], float(r["score1"]), delta=1e-4)


if __name__ == "__main__":
    unittest.main()
