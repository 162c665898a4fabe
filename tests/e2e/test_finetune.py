"""ptinfer finetune against PyTorch: the same SGD steps as torch.optim.SGD with the guide's
parameter groups, --head-only, the written checkpoint read by torch.load (also weights_only) and
by ptinfer validate, amp O1/O2 with the loss scaler, and bad input."""
import math
import os
import re
import shutil
import unittest

import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T

import common
from common import make_guide_checkpoint, make_image_folder, read_csv, run_ptinfer

CLASSES = ["a", "b", "c"]
PER_CLASS = 4          # 12 images
RESIZE, CROP = 40, 32  # small inputs keep the test fast
LR, MOMENTUM, WD = 0.05, 0.9, 0.01
# fp32 on both sides with one thread each: the same ATen kernels in the same order. (With
# several threads, parallel reductions in conv/BN backward differ in the last bits, which BN's
# batch statistics over 6 images amplify to ~1e-4 relative in the gradients after 2 steps.)
ATOL, RTOL = 1e-6, 1e-5


def guide_optimizer(params, lr, momentum, wd):
    """The guide's sample: biases without weight decay, everything else with it."""
    params = list(params)
    return torch.optim.SGD([
        {"params": [p for n, p in params if n[-4:] == "bias"], "weight_decay": 0.0},
        {"params": [p for n, p in params if n[-4:] != "bias"], "weight_decay": wd}],
        lr, momentum=momentum)


def python_finetune(ckpt_path, root, batch_size, head_only=False):
    """PyTorch's reference: the same batches (folder order), the same SGD steps."""
    ckpt = torch.load(ckpt_path)
    model = torchvision.models.resnet18(num_classes=len(CLASSES))
    model.load_state_dict({k[len("module."):] if k.startswith("module.") else k: v
                           for k, v in ckpt["state_dict"].items()})
    named = list(model.named_parameters())
    if head_only:
        for n, p in named:
            p.requires_grad_(n.startswith("fc."))
        named = [(n, p) for n, p in named if n.startswith("fc.")]
        model.eval()
    else:
        model.train()
    optimizer = guide_optimizer(named, LR, MOMENTUM, WD)
    transform = T.Compose([T.Resize(RESIZE), T.CenterCrop(CROP), T.ToTensor(),
                           T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    data = torchvision.datasets.ImageFolder(root, transform)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=False)
    losses = []
    torch.set_num_threads(1)
    for images, target in loader:
        loss = F.cross_entropy(model(images), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, optimizer, losses


def max_diff(a, b):
    return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0


class FinetuneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_finetune_")
        cls.root = make_image_folder(os.path.join(cls.tmp, "data"), CLASSES, PER_CLASS, seed=5)
        cls.ckpt = make_guide_checkpoint(os.path.join(cls.tmp, "in.pth.tar"), "resnet18",
                                         len(CLASSES), seed=2)

    def finetune(self, out_name, *extra, check=True, batch_size=6, ckpt=None):
        out = os.path.join(self.tmp, out_name)
        args = ["finetune", "--data", self.root, "-a", "resnet18", "--resume", ckpt or self.ckpt,
                "-b", str(batch_size), "-j", "1", "--no-shuffle", "--resize-size", str(RESIZE),
                "--crop-size", str(CROP), "--lr", str(LR), "--momentum", str(MOMENTUM),
                "--wd", str(WD), "--print-freq", "1", "--threads", "1", "--output", out] + list(extra)
        return run_ptinfer(args, check=check), out

    def assert_state_close(self, ours, model, keys=None):
        ref = model.state_dict()
        self.assertEqual(list(ours.keys()), list(ref.keys()))
        worst = 0.0
        for k in keys or ref.keys():
            self.assertEqual(ours[k].dtype, ref[k].dtype, k)
            self.assertEqual(ours[k].shape, ref[k].shape, k)
            if ref[k].is_floating_point():
                self.assertTrue(torch.allclose(ours[k], ref[k], rtol=RTOL, atol=ATOL),
                                "%s differs by %g" % (k, max_diff(ours[k], ref[k])))
                worst = max(worst, max_diff(ours[k], ref[k]))
            else:
                self.assertTrue(torch.equal(ours[k], ref[k]), k)
        return worst

    def test_two_sgd_steps_equal_pytorchs(self):
        proc, out = self.finetune("parity.pth.tar", "--save-optimizer")
        self.assertEqual(len(re.findall(r"^Epoch: \[3\]\[\s*\d+/2\]", proc.stdout, re.M)), 2,
                         proc.stdout)
        model, optimizer, losses = python_finetune(self.ckpt, self.root, 6)
        saved = torch.load(out)
        self.assertEqual(saved["epoch"], 4)  # the input's epoch 3, plus one
        worst = self.assert_state_close(saved["state_dict"], model)
        # The input's weights really moved, and BatchNorm's running statistics were updated.
        before = torch.load(self.ckpt)["state_dict"]
        self.assertGreater(max_diff(saved["state_dict"]["layer1.0.conv1.weight"],
                                    before["module.layer1.0.conv1.weight"]), 1e-4)
        self.assertGreater(max_diff(saved["state_dict"]["bn1.running_mean"],
                                    before["module.bn1.running_mean"]), 1e-4)
        self.assertEqual(saved["state_dict"]["bn1.num_batches_tracked"].item(),
                         before["module.bn1.num_batches_tracked"].item() + 2)
        # The momentum buffers, in PyTorch's numbering, and the groups' hyper-parameters.
        ref_opt = optimizer.state_dict()
        ours_opt = saved["optimizer"]
        self.assertEqual([g["params"] for g in ours_opt["param_groups"]],
                         [g["params"] for g in ref_opt["param_groups"]])
        self.assertEqual([g["weight_decay"] for g in ours_opt["param_groups"]], [0.0, WD])
        self.assertEqual(sorted(ours_opt["state"].keys()), sorted(ref_opt["state"].keys()))
        for i, s in ref_opt["state"].items():
            self.assertTrue(torch.allclose(ours_opt["state"][i]["momentum_buffer"],
                                           s["momentum_buffer"], rtol=RTOL, atol=ATOL), i)
            worst = max(worst, max_diff(ours_opt["state"][i]["momentum_buffer"],
                                        s["momentum_buffer"]))
        # The guide's optimizer resumes from it.
        resumed = torchvision.models.resnet18(num_classes=len(CLASSES))
        resumed.load_state_dict(saved["state_dict"])
        guide_optimizer(resumed.named_parameters(), LR, MOMENTUM, WD).load_state_dict(ours_opt)
        # The losses printed (4 decimals) are PyTorch's.
        printed = [float(m) for m in re.findall(r"Loss\s+([\d.]+) \(", proc.stdout)]
        self.assertEqual(len(printed), 2)
        for ours, ref in zip(printed, losses):
            self.assertAlmostEqual(ours, ref, places=3)
        print("max |ptinfer - pytorch| over weights, BN statistics and momentum buffers after "
              "2 steps: %.3g" % worst)

    def test_head_only_changes_only_fc_and_matches_pytorch(self):
        _, out = self.finetune("head.pth.tar", "--head-only")
        saved = torch.load(out)["state_dict"]
        before = torch.load(self.ckpt)["state_dict"]
        for k, v in saved.items():
            old = before["module." + k].to(v.dtype)
            if k.startswith("fc."):
                self.assertFalse(torch.equal(v, old), k)
            else:
                self.assertTrue(torch.equal(v, old), k)  # incl. BN running statistics
        model, _, _ = python_finetune(self.ckpt, self.root, 6, head_only=True)
        self.assert_state_close(saved, model)
        # --augment flip: seeded, so reproducible, and it changes what the head sees.
        flipped = [torch.load(self.finetune("flip%d.pth.tar" % i, "--head-only", "--augment",
                                            "flip", "--seed", "7")[1])["state_dict"]
                   for i in range(2)]
        self.assertTrue(torch.equal(flipped[0]["fc.weight"], flipped[1]["fc.weight"]))
        self.assertFalse(torch.equal(flipped[0]["fc.weight"], saved["fc.weight"]))

    def test_checkpoint_loads_in_python_and_in_validate(self):
        _, out = self.finetune("load.pth.tar", "--epochs", "2")
        ckpt = torch.load(out, weights_only=True)
        self.assertEqual(sorted(ckpt.keys()), ["arch", "best_acc1", "epoch", "state_dict"])
        self.assertEqual(ckpt["epoch"], 5)
        self.assertEqual(ckpt["arch"], "resnet18")
        self.assertEqual(float(ckpt["best_acc1"]), 12.5)  # carried from the input
        self.assertIsInstance(ckpt["state_dict"], type(torch.load(self.ckpt)["state_dict"]))
        # The guide's resume code runs on it.
        model = torchvision.models.resnet18(num_classes=len(CLASSES))
        model.load_state_dict(ckpt["state_dict"])
        # ptinfer validate reads it and computes what PyTorch computes with torch.load's weights.
        csv_path = os.path.join(self.tmp, "pred.csv")
        run_ptinfer(["validate", "--data", self.root, "-a", "resnet18", "--resume", out,
                     "-b", "5", "-j", "1", "--resize-size", str(RESIZE), "--crop-size",
                     str(CROP), "--predictions", csv_path])
        rows = read_csv(csv_path)
        model.eval()
        transform = T.Compose([T.Resize(RESIZE), T.CenterCrop(CROP), T.ToTensor(),
                               T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        data = torchvision.datasets.ImageFolder(self.root, transform)
        self.assertEqual(len(rows), len(data))
        with torch.no_grad():
            for (image, _), row in zip(data, rows):
                p = torch.softmax(model(image[None]), 1)[0]
                top = int(row["top1"])
                self.assertEqual(top, int(p.argmax()))
                self.assertAlmostEqual(float(row["score1"]), p[top].item(), places=4)

    def test_amp_o1_o2_report_the_loss_scaler(self):
        for level in ("O1", "O2"):
            proc, out = self.finetune(level + ".pth.tar", "--amp", level, "--amp-dtype", "bf16")
            self.assertIn("Loss scale 65536 (skipped 0)", proc.stdout)  # Apex's dynamic default
            self.assertRegex(proc.stdout, r"steps 2, skipped 0, loss scale 65536")
            sd = torch.load(out, weights_only=True)["state_dict"]
            for k, v in sd.items():
                if v.is_floating_point():
                    self.assertEqual(v.dtype, torch.float32, k)  # fp32 masters are saved
                    self.assertTrue(torch.isfinite(v).all(), k)
        # Head only (BatchNorm in eval mode, so the steps are not chaotic): the bf16 update of fc
        # is within 10% (relative L2) of the fp32 one; we saw 2.3% for O1 and O2. The frozen
        # weights are saved exactly as they came in (fp32 originals, not bf16-rounded copies).
        _, ref_out = self.finetune("o0_head.pth.tar", "--head-only")
        ref = torch.load(ref_out)["state_dict"]
        before = torch.load(self.ckpt)["state_dict"]
        for level in ("O1", "O2"):
            _, out = self.finetune(level + "_head.pth.tar", "--head-only", "--amp", level)
            sd = torch.load(out)["state_dict"]
            update = ref["fc.weight"] - before["module.fc.weight"]
            diff = (sd["fc.weight"] - ref["fc.weight"]).norm() / update.norm()
            self.assertLess(diff.item(), 0.1, level)
            for k, v in sd.items():
                if not k.startswith("fc."):
                    self.assertTrue(torch.equal(v, before["module." + k].to(v.dtype)), k)

    def test_dynamic_scale_backs_off_on_overflow(self):
        # A head that makes class 'a' (the whole first batch) cost ~10: loss * 3.4e38 overflows
        # fp32, so the first step must be skipped and the scale backed off (here by 1e-30, to a
        # scale whose gradients are surely finite); the later steps are taken.
        ckpt = torch.load(self.ckpt)
        ckpt["state_dict"]["module.fc.bias"] = torch.tensor([-10.0, 0.0, 0.0])
        planted = os.path.join(self.tmp, "planted.pth.tar")
        torch.save(ckpt, planted)
        init, backoff = 3.4e38, 1e-30
        proc, out = self.finetune("overflow.pth.tar", "--amp", "O2", "--loss-scale", "dynamic",
                                  "--init-loss-scale", str(init), "--max-loss-scale", "3.4e38",
                                  "--scale-backoff-factor", str(backoff), batch_size=3,
                                  ckpt=planted)
        lines = [l for l in proc.stdout.splitlines() if l.startswith("Epoch: ")]
        self.assertEqual(len(lines), 4, proc.stdout)
        self.assertIn("Loss scale %g (skipped 1)" % (init * backoff), lines[0])
        self.assertIn("Loss scale %g (skipped 1)" % (init * backoff), lines[3])
        m = re.search(r"steps (\d+), skipped (\d+), loss scale (\S+);", proc.stdout)
        self.assertIsNotNone(m, proc.stdout)
        self.assertEqual((int(m.group(1)), int(m.group(2))), (3, 1))
        self.assertTrue(math.isclose(float(m.group(3)), init * backoff, rel_tol=1e-5))
        sd = torch.load(out)["state_dict"]
        self.assertTrue(all(torch.isfinite(v).all() for v in sd.values()))
        # The skipped batch still ran its forward pass in train mode, which updates BatchNorm's
        # running statistics (as with Apex): 4 updates for 3 steps.
        self.assertEqual(sd["bn1.num_batches_tracked"].item(),
                         ckpt["state_dict"]["module.bn1.num_batches_tracked"].item() + 4)

    def test_bad_input_is_a_clear_error_and_writes_nothing(self):
        out = os.path.join(self.tmp, "bad.pth.tar")
        cases = [
            (["finetune", "-a", "resnet18", "--output", out], 2, "--data"),
            (["finetune", "--data", self.root, "--loss-scale", "lots", "--output", out], 2,
             "--loss-scale"),
            (["finetune", "--data", self.root, "--loss-scale", "0", "--output", out], 2,
             "--loss-scale"),
            (["finetune", "--data", self.root, "--loss-scale", "128", "--scale-window", "10",
              "--output", out], 2, "--loss-scale dynamic"),
            (["finetune", "--data", self.root, "--augment", "rotate", "--output", out], 2,
             "--augment"),
            (["finetune", "--data", self.root, "--lr", "-1", "--output", out], 2, "--lr"),
            (["finetune", "--data", self.root, "-a", "resnet18", "--output",
              os.path.join(self.tmp, "no_such_dir", "x.pth.tar")], 2, "no_such_dir"),
            (["finetune", "--data", self.root, "-a", "resnet18", "--output", self.tmp], 2,
             "is a directory"),
        ]
        for args, code, needle in cases:
            proc = run_ptinfer(args, check=False)
            self.assertEqual(proc.returncode, code, "%s\n%s" % (args, proc.stderr))
            self.assertIn(needle, proc.stderr + proc.stdout, args)
            self.assertFalse(os.path.exists(out), args)
        # A bad image stops training with its path (exit 1): no checkpoint, no temporary file.
        broken = os.path.join(self.tmp, "broken")
        shutil.copytree(self.root, broken)
        with open(os.path.join(broken, "c", "zz_broken.jpg"), "wb") as f:
            f.write(b"\xff\xd8 not a jpeg")
        target_dir = os.path.join(self.tmp, "outdir")
        os.makedirs(target_dir)
        proc = run_ptinfer(["finetune", "--data", broken, "-a", "resnet18", "--resume", self.ckpt,
                            "-b", "6", "-j", "1", "--no-shuffle", "--resize-size", str(RESIZE),
                            "--crop-size", str(CROP), "--output",
                            os.path.join(target_dir, "x.pth.tar")], check=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("zz_broken.jpg", proc.stderr)
        self.assertEqual(os.listdir(target_dir), [])


if __name__ == "__main__":
    unittest.main()
