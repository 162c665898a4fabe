"""TorchScript archives (torch.jit.save) of architectures outside the native zoo run with
--arch torchscript and give PyTorch's eager numbers; inspect reads them as data; broken, hostile
or mismatched files are clear errors. Fixtures are written here by Debian's PyTorch."""
import json
import os
import unittest
import zipfile

import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

import common

SIZE = ["--resize-size", "72", "--crop-size", "64"]


def trained_looking(model, seed):
    """Random weights with non-trivial BatchNorm statistics and a head whose logits are well
    apart, so top-k orders are not decided by rounding."""
    torch.manual_seed(seed)
    common.randomize_batch_norm(model)
    with torch.no_grad():
        head = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
        head.weight.normal_(0, 0.5)
        head.bias.uniform_(1, 2)
    return model.eval()


def python_o2(model):
    """O2 in PyTorch: every module's own floating tensors bf16 except BatchNorm's."""
    for m in model.modules():
        if not isinstance(m, torch.nn.BatchNorm2d):
            for p in m.parameters(recurse=False):
                p.data = p.data.to(torch.bfloat16)
    return model


class TorchScript(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_torchscript_")
        classes = ["a", "b"]
        cls.data = common.make_image_folder(os.path.join(cls.tmp, "data"), classes, 2, seed=5)
        cls.paths = [os.path.join(cls.data, c, f) for c in classes
                     for f in sorted(os.listdir(os.path.join(cls.data, c)))]
        tf = T.Compose([T.Resize(72), T.CenterCrop(64), T.ToTensor(),
                        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        cls.batch = torch.stack([tf(Image.open(p).convert("RGB")) for p in cls.paths])
        # Two architectures ptinfer has no native definition of: one scripted, one traced.
        cls.mobilenet = trained_looking(torchvision.models.mobilenet_v3_small(num_classes=10), 1)
        cls.mobilenet_pt = os.path.join(cls.tmp, "mobilenet_v3_small_scripted.pt")
        torch.jit.script(cls.mobilenet).save(cls.mobilenet_pt)
        cls.squeezenet = trained_looking(torchvision.models.squeezenet1_1(num_classes=7), 2)
        cls.squeezenet_pt = os.path.join(cls.tmp, "squeezenet1_1_traced.pt")
        torch.jit.trace(cls.squeezenet, torch.randn(1, 3, 64, 64)).save(cls.squeezenet_pt)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def predict(self, archive, num_classes, *extra):
        out = self.path("pred_%d.json" % len(os.listdir(self.tmp)))
        common.run_ptinfer(["predict", "--arch", "torchscript", "--resume", archive, "--topk",
                            str(num_classes), "--json", out] + SIZE + list(extra) + [self.data])
        with open(out) as f:
            result = json.load(f)
        self.assertEqual([r["path"] for r in result], self.paths)
        return result

    def expect_probabilities(self, result, probs, tol):
        """Every class's probability (all classes are asked for, so ties cannot reorder what
        is compared) equals PyTorch's within `tol`, and the top-1 class is PyTorch's, or one
        whose PyTorch probability is within 2 * tol of PyTorch's top-1 (a tie at this
        precision: seen once with bf16, where the two top classes were 1e-4 apart)."""
        for r, p in zip(result, probs):
            got = {t["index"]: t["score"] for t in r["topk"]}
            self.assertEqual(sorted(got), list(range(len(p))), r["path"])
            for i, s in enumerate(p.tolist()):
                self.assertAlmostEqual(got[i], s, delta=tol, msg="%s class %d" % (r["path"], i))
            top = r["topk"][0]["index"]
            self.assertGreaterEqual(float(p[top]), float(p.max()) - 2 * tol,
                                    "%s: top-1 %d, PyTorch's %d" % (r["path"], top,
                                                                    int(p.argmax())))

    def test_predict_equals_pytorch_eager_for_scripted_and_traced_models(self):
        for model, archive in ((self.mobilenet, self.mobilenet_pt),
                               (self.squeezenet, self.squeezenet_pt)):
            with torch.no_grad():
                probs = torch.softmax(model(self.batch), 1)
            self.expect_probabilities(self.predict(archive, probs.shape[1]), probs, 1e-5)

    def test_validate_runs_a_torchscript_model(self):
        js = self.path("validate.json")
        csv = self.path("validate.csv")
        proc = common.run_ptinfer(["validate", "--data", self.data, "--arch", "torchscript",
                                   "--resume", self.mobilenet_pt, "-b", "3", "--json", js,
                                   "--predictions", csv] + SIZE)
        self.assertIn(" * Acc@1", proc.stdout)
        with torch.no_grad():
            probs = torch.softmax(self.mobilenet(self.batch), 1)
        rows = {r["path"]: r for r in common.read_csv(csv)}
        for p, ref in zip(self.paths, probs):
            self.assertEqual(int(rows[p]["top1"]), int(ref.argmax()), p)
            self.assertAlmostEqual(float(rows[p]["score1"]), float(ref.max()), delta=1e-5)

    def test_o2_casts_the_script_modules_weights_but_batchnorm(self):
        import copy
        model = python_o2(copy.deepcopy(self.mobilenet))
        with torch.no_grad():
            probs = torch.softmax(model(self.batch.to(torch.bfloat16)).float(), 1)
        # The plain module (--no-fast-path): the same bf16 kernels on the same values as
        # PyTorch's eager O2.
        self.expect_probabilities(self.predict(self.mobilenet_pt, 10, "--amp", "O2",
                                               "--no-fast-path"), probs, 1e-4)

    def test_the_fast_path_traces_the_archive_into_its_graph(self):
        # fp32 is checked against PyTorch above (the fast path is the default); here the log
        # says which path ran, and O2 runs the graph's bf16 kernels on the archive's fp32
        # weights (BatchNorm folded first), which round differently from PyTorch's O2 module:
        # close to fp32 at bf16's precision.
        for archive in (self.mobilenet_pt, self.squeezenet_pt):
            log = {"PTINFER_LOG_STDOUT": "1", "PTINFER_LOG_LEVEL": "1"}
            proc = common.run_ptinfer(["predict", "--arch", "torchscript", "--resume", archive] +
                                      SIZE + [self.paths[0]], env=log)
            self.assertIn("engine: fast path: graph", proc.stdout, archive)
            proc = common.run_ptinfer(["predict", "--arch", "torchscript", "--resume", archive,
                                       "--no-fast-path"] + SIZE + [self.paths[0]], env=log)
            self.assertNotIn("fast path: graph", proc.stdout, archive)
            self.assertIn("engine: TorchScript", proc.stdout, archive)
        with torch.no_grad():
            probs = torch.softmax(self.mobilenet(self.batch), 1)
        self.expect_probabilities(self.predict(self.mobilenet_pt, 10, "--amp", "O2"), probs, 2e-2)

    def test_o1_autocast_reaches_the_script_module(self):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = self.mobilenet(self.batch)
        self.assertEqual(logits.dtype, torch.bfloat16)
        # PyTorch's eager autocast and ours differ in which ops run fp32 (ours keeps BatchNorm
        # and softmax fp32), so this is a closeness check, not equality.
        probs = torch.softmax(logits.float(), 1)
        result = self.predict(self.mobilenet_pt, 10, "--amp", "O1")
        for r, p in zip(result, probs):
            got = {t["index"]: t["score"] for t in r["topk"]}
            for i, s in enumerate(p.tolist()):
                self.assertAlmostEqual(got[i], s, delta=0.05)

    def test_inspect_reads_the_archive_as_data(self):
        for model, archive, cls in (
                (self.mobilenet, self.mobilenet_pt, "torchvision.models.mobilenetv3.MobileNetV3"),
                (self.squeezenet, self.squeezenet_pt, "torchvision.models.squeezenet.SqueezeNet")):
            # --no-match: the search for a native twin builds every registered model (slow).
            proc = common.run_ptinfer(["inspect", "--no-match", archive, "--json"])
            info = json.loads(proc.stdout)
            self.assertEqual(info["format"], "torchscript")
            self.assertEqual(info["class"], cls)
            sd = torch.jit.load(archive).state_dict()
            self.assertEqual(info["tensors"], len(sd))
            self.assertEqual(info["elements"], sum(t.numel() for t in sd.values()))
            self.assertEqual(info["parameters"], sum(p.numel() for p in model.parameters()))
            text = common.run_ptinfer(["inspect", "--no-match", archive]).stdout
            self.assertIn("format: torchscript", text)
            self.assertIn("class: " + cls, text)

    def test_native_arch_reads_a_scripted_torchvision_model_as_weights(self):
        torch.manual_seed(3)
        resnet = trained_looking(torchvision.models.resnet18(num_classes=4), 3)
        archive = self.path("resnet18_scripted.pt")
        torch.jit.script(resnet).save(archive)
        out = self.path("resnet_pred.json")
        common.run_ptinfer(["predict", "-a", "resnet18", "--resume", archive, "--topk", "4",
                            "--json", out] + SIZE + [self.data])
        with open(out) as f:
            result = json.load(f)
        with torch.no_grad():
            self.expect_probabilities(result, torch.softmax(resnet(self.batch), 1), 1e-5)

    def test_broken_hostile_and_mismatched_files_are_clear_errors(self):
        # A TorchScript archive with a native arch whose weights do not fit: says how to run it.
        proc = common.run_ptinfer(["predict", "-a", "resnet50", "--resume", self.mobilenet_pt,
                                   self.data], check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("is a TorchScript archive", proc.stderr)
        self.assertIn("--arch torchscript", proc.stderr)
        # A plain checkpoint with --arch torchscript.
        plain = self.path("plain.pth")
        torch.save(self.mobilenet.state_dict(), plain)
        proc = common.run_ptinfer(["predict", "--arch", "torchscript", "--resume", plain,
                                   self.data], check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn(plain + ": --arch torchscript needs a torch.jit.save archive", proc.stderr)
        proc = common.run_ptinfer(["predict", "--arch", "torchscript", self.data], check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("--arch torchscript needs --resume", proc.stderr)
        # Code that does not compile, a truncated archive, a forward that returns a tuple.
        with zipfile.ZipFile(self.mobilenet_pt) as z:
            code = [n for n in z.namelist() if "/code/" in n and n.endswith(".py")][0]
        bad_code = self.path("bad_code.pt")
        with zipfile.ZipFile(self.mobilenet_pt) as zin, \
                zipfile.ZipFile(bad_code, "w", zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                if info.filename == code:
                    data = b"def forward(self x):\n  return ]\n"
                zout.writestr(info, data)
        with open(self.mobilenet_pt, "rb") as f:
            data = f.read()
        cut = self.path("cut.pt")
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2])

        class Pair(torch.nn.Module):
            def forward(self, x):
                return x.mean((2, 3)), x

        pair = self.path("pair.pt")
        torch.jit.script(Pair()).save(pair)

        for archive, needle in ((bad_code, "cannot load this TorchScript archive"),
                                (cut, ""),
                                (pair, "returned Tuple, expected a logits tensor")):
            proc = common.run_ptinfer(["predict", "--arch", "torchscript", "--resume", archive]
                                      + SIZE + [self.data], check=False)
            self.assertEqual(proc.returncode, 1, archive + proc.stderr)
            self.assertIn(archive, proc.stderr)
            self.assertIn(needle, proc.stderr)
            self.assertNotIn("terminate called", proc.stderr)


if __name__ == "__main__":
    unittest.main()
