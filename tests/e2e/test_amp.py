"""--amp: validate under each precision policy. O2 and O3 give PyTorch's numbers for the same
policies (O2: bf16 weights except BatchNorm's fp32 ones, bf16 input; O3: all bf16), the policy is reported in --json,
and bad values are clear errors."""
import copy
import json
import os
import unittest

import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

import common

SIZE = ["--resize-size", "72", "--crop-size", "64", "-b", "4"]


def python_o2(model):
    """The O2 policy in PyTorch (as Apex's convert_network): every module's own weights in bf16
    except BatchNorm's, which keep their fp32 values (not rounded through bf16)."""
    for m in model.modules():
        if not isinstance(m, torch.nn.BatchNorm2d):
            for p in m.parameters(recurse=False):
                p.data = p.data.to(torch.bfloat16)
    return model


class Amp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_amp_")
        classes = ["a", "b", "c", "d"]
        cls.data = common.make_image_folder(os.path.join(cls.tmp, "data"), classes, 4, seed=2)
        cls.ckpt = common.make_guide_checkpoint(os.path.join(cls.tmp, "m.pth.tar"), "resnet18", 4,
                                                seed=4)
        state = torch.load(cls.ckpt)["state_dict"]
        model = torchvision.models.resnet18(num_classes=4)
        model.load_state_dict({k[len("module."):]: v for k, v in state.items()})
        model.eval()
        tf = T.Compose([T.Resize(72), T.CenterCrop(64), T.ToTensor(),
                        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        cls.paths = [os.path.join(cls.data, c, f) for c in classes
                     for f in sorted(os.listdir(os.path.join(cls.data, c)))]
        x = torch.stack([tf(Image.open(p).convert("RGB")) for p in cls.paths])
        with torch.no_grad():
            cls.ref_o0 = torch.softmax(model(x), 1)
            cls.ref_o3 = torch.softmax(copy.deepcopy(model).bfloat16()(x.bfloat16()).float(), 1)
            logits = python_o2(model)(x.to(torch.bfloat16))
            assert logits.dtype == torch.bfloat16
            cls.ref_o2 = torch.softmax(logits.float(), 1)

    def validate(self, *extra, check=True):
        n = len(os.listdir(self.tmp))
        js, csv = (os.path.join(self.tmp, "r%d.%s" % (n, e)) for e in ("json", "csv"))
        proc = common.run_ptinfer(["validate", "--data", self.data, "-a", "resnet18", "--resume",
                                   self.ckpt, "--json", js, "--predictions", csv] + SIZE +
                                  list(extra), check=check)
        if proc.returncode != 0:
            return proc, None, None
        with open(js) as f:
            report = json.load(f)
        rows = {r["path"]: r for r in common.read_csv(csv)}
        return proc, report, [rows[p] for p in self.paths]

    def check_against(self, rows, ref, tol):
        """Top-1 equal to the reference, top-1 probability within tol."""
        for row, probs in zip(rows, ref):
            self.assertEqual(int(row["top1"]), int(probs.argmax()), row["path"])
            self.assertAlmostEqual(float(row["score1"]), float(probs.max()), delta=tol,
                                   msg=row["path"])

    def test_o2_matches_pytorchs_o2_and_reports_the_policy(self):
        # The plain module runs PyTorch's O2 op for op; the fast path (folded BatchNorm, fused
        # kernels) rounds differently and is checked below.
        proc, report, rows = self.validate("--amp", "O2", "--no-fast-path")
        self.assertEqual(report["config"]["amp"], "O2")
        self.assertEqual(report["config"]["amp_dtype"], "bf16")
        self.assertEqual(report["summary"]["images"], len(self.paths))
        self.assertIn(" * Acc@1", proc.stdout)
        # The same kernels on the same bf16 values: equal up to the CSV's printed digits.
        self.check_against(rows, self.ref_o2, 1e-6)

    def test_o3_matches_pytorchs_all_bf16_model(self):
        _, report, rows = self.validate("--amp", "O3", "--no-fast-path")
        self.assertEqual(report["config"]["amp"], "O3")
        self.check_against(rows, self.ref_o3, 1e-6)

    def test_fast_path_o2_and_o3_within_bf16_rounding_of_pytorchs(self):
        # The fast path folds BatchNorm into bf16 convolutions: rounding differs from PyTorch's
        # op-for-op bf16, so near-ties of these random 4-class weights may swap; each image's
        # probabilities stay within bf16 rounding (max |diff| 2.6e-3 measured; bound 2e-2).
        for level, ref in (("O2", self.ref_o2), ("O3", self.ref_o3)):
            _, report, rows = self.validate("--amp", level)
            self.assertEqual(report["config"]["amp"], level)
            for row, probs in zip(rows, ref):
                self.assertAlmostEqual(float(row["score1"]), float(probs[int(row["top1"])]),
                                       delta=2e-2, msg=level + " " + row["path"])

    def test_default_is_o0_fp32(self):
        _, report, rows = self.validate()
        self.assertEqual(report["config"]["amp"], "O0")
        self.check_against(rows, self.ref_o0, 1e-5)

    def test_o1_and_o3_run_close_to_o0(self):
        # bf16 keeps 8 significand bits: top-1 probabilities moved by at most 5e-3 here (measured).
        for level in ["O1", "O3", "o1"]:
            _, report, rows = self.validate("--amp", level, "--amp-dtype", "bf16")
            self.assertEqual(report["config"]["amp"], level.upper())
            for row, probs in zip(rows, self.ref_o0):
                self.assertAlmostEqual(float(row["score1"]), float(probs.max()), delta=0.05,
                                       msg=level + " " + row["path"])

    def test_bad_values_are_clear_errors(self):
        proc, _, _ = self.validate("--amp", "O4", check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--amp: unknown opt level 'O4'; allowed: O0, O1, O2, O3", proc.stderr)
        proc, _, _ = self.validate("--amp", "O2", "--amp-dtype", "int8", check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--amp-dtype: unknown dtype 'int8'; allowed: bf16, fp16", proc.stderr)
        proc, _, _ = self.validate("--amp", "O2", "--amp-dtype", "fp16", check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("--amp-dtype fp16 is not supported on the CPU", proc.stderr)


if __name__ == "__main__":
    unittest.main()
