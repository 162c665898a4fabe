"""The zoo from the command line: `ptinfer models` against torchvision's own declarations, and
checkpoints in the layout of torchvision's reference training scripts."""
import argparse
import json
import os
import unittest

import torch
import torchvision
from torchvision.models import get_model_weights

import common


def torchvision_preset(arch):
    t = get_model_weights(arch).DEFAULT.transforms()
    return {"resize_size": list(t.resize_size)[0], "crop_size": list(t.crop_size)[0],
            "interpolation": t.interpolation.value, "mean": list(t.mean), "std": list(t.std)}


class Models(unittest.TestCase):
    def test_json_lists_parameters_and_presets_as_torchvision_declares(self):
        rows = json.loads(common.run_ptinfer(["models", "--json"]).stdout)
        known = set(torchvision.models.list_models(module=torchvision.models))
        self.assertGreaterEqual(len(rows), 10)
        self.assertEqual([r["name"] for r in rows], sorted(r["name"] for r in rows))
        for row in rows:
            arch = row["name"]
            self.assertIn(arch, known)
            weights = get_model_weights(arch).DEFAULT
            self.assertEqual(row["parameters"], weights.meta["num_params"], arch)
            self.assertEqual(row["preset_preprocessing"], torchvision_preset(arch), arch)
            self.assertEqual(row["pretrained_file"], os.path.basename(weights.url), arch)
            self.assertIsInstance(row["fast_path"], bool)
            self.assertEqual(row["fast_path"], row["fast_path_gap"] == "", arch)
        self.assertTrue(any(r["fast_path"] for r in rows))  # the ResNets

    def test_table_names_every_architecture(self):
        out = common.run_ptinfer(["models"]).stdout
        rows = json.loads(common.run_ptinfer(["models", "--json"]).stdout)
        for row in rows:
            self.assertIn(row["name"] + " ", out)
        self.assertIn("%d architectures" % len(rows), out)

    def test_unknown_flag_is_refused(self):
        proc = common.run_ptinfer(["models", "--jsn"], check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("--jsn", proc.stdout + proc.stderr)


class ReferenceScriptLayout(unittest.TestCase):
    """torchvision/references/classification/train.py saves {"model", "optimizer",
    "lr_scheduler", "epoch", "args"} and, with --model-ema, "model_ema" (an AveragedModel's
    state dict: "module." keys and an "n_averaged" counter)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_zoo_layout_")
        cls.images = common.make_image_folder(os.path.join(cls.tmp, "imgs"), ["a", "b"], 3)
        torch.manual_seed(0)
        cls.model = torchvision.models.resnet18(num_classes=4)
        common.randomize_batch_norm(cls.model)
        cls.ema = torch.optim.swa_utils.AveragedModel(cls.model)
        with torch.no_grad():
            for p in cls.ema.module.parameters():
                p.mul_(0.5)  # EMA weights that differ from the model's
        optimizer = torch.optim.SGD(cls.model.parameters(), lr=0.1, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
        args = argparse.Namespace(model="resnet18", lr=0.1, epochs=90, data_path="/data")
        cls.path = os.path.join(cls.tmp, "checkpoint.pth")
        torch.save({"model": cls.model.state_dict(), "model_ema": cls.ema.state_dict(),
                    "optimizer": optimizer.state_dict(), "lr_scheduler": scheduler.state_dict(),
                    "epoch": 7, "args": args}, cls.path)
        cls.plain = os.path.join(cls.tmp, "plain.pth")
        torch.save({"model": cls.model.state_dict(), "optimizer": optimizer.state_dict(),
                    "lr_scheduler": scheduler.state_dict(), "epoch": 7, "args": args}, cls.plain)

    def inspect(self, *args):
        return json.loads(common.run_ptinfer(["inspect", "--json"] + list(args)).stdout)

    def test_inspect_reads_arch_from_args_and_prefers_the_ema_weights(self):
        info = self.inspect(self.path)
        self.assertEqual(info["state_dict_key"], "model_ema")
        self.assertEqual(info["stripped_prefixes"], ["module."])
        self.assertEqual(info["metadata"]["arch"], "resnet18")
        self.assertEqual(info["metadata"]["epoch"], 7)
        self.assertEqual(info["architecture"], "resnet18")
        plain = self.inspect(self.plain)
        self.assertEqual(plain["state_dict_key"], "model")
        self.assertEqual(plain["architecture"], "resnet18")

    def predicted(self, path, *extra):
        out = os.path.join(self.tmp, "pred_%d.json" % len(os.listdir(self.tmp)))
        common.run_ptinfer(["predict", "-a", "resnet18", "--resume", path, "--topk", "1",
                            "--json", out] + list(extra) + [self.images])
        with open(out) as f:
            return [r["topk"][0]["index"] for r in json.load(f)]

    def test_predict_runs_the_ema_or_the_named_weights(self):
        import torchvision.transforms as T
        from PIL import Image
        tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        paths = sorted(os.path.join(r, f) for r, _, fs in os.walk(self.images) for f in fs)
        x = torch.stack([tf(Image.open(p).convert("RGB")) for p in paths])
        with torch.no_grad():
            want_ema = self.ema.module.eval()(x).argmax(1).tolist()
            want_model = self.model.eval()(x).argmax(1).tolist()
        self.assertEqual(self.predicted(self.path), want_ema)
        self.assertEqual(self.predicted(self.path, "--checkpoint-key", "model"), want_model)


if __name__ == "__main__":
    unittest.main()
