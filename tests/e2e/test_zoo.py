"""The zoo from the command line: `ptinfer models` against torchvision's own declarations, and
checkpoints in the layout of torchvision's reference training scripts."""
import argparse
import json
import os
import sys
import unittest

import torch
import torchvision
from torchvision.models import get_model_weights

import common

sys.path.insert(0, os.path.join(common.SOURCE_DIR, "src", "models"))
from make_model_fixtures import MultiplyAdds  # noqa: E402  torchvision's ops, counted

# The sanitizer build runs every binary 3-10x slower: there the end-to-end zoo takes three
# families (the ResNets' fast path, EfficientNet's bicubic preset and stochastic depth, ViT's
# attention) and leaves the 384-pixel ViT out; the Release run takes every family.
SANITIZED = os.environ.get("PTINFER_SANITIZED") == "1"
SANITIZED_FAMILIES = {"resnet", "efficientnet", "vit"}

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

    def test_gflops_are_torchvisions_multiply_adds_at_the_preset_crop(self):
        # inception_v3's preset crop is 299; the ViT's products are matmuls and attention.
        archs = ["inception_v3", "mobilenet_v3_small", "vit_b_32"]
        rows = json.loads(common.run_ptinfer(["models", "--json", "--gflops"] + archs).stdout)
        self.assertEqual([r["name"] for r in rows], archs)
        for row in rows:
            arch = row["name"]
            crop = row["preset_preprocessing"]["crop_size"]
            model = torchvision.models.get_model(arch).eval()
            # Autograd on: under no_grad nn.MultiheadAttention runs one fused op, unseen.
            with MultiplyAdds() as count:
                model(torch.zeros(1, 3, crop, crop))
            self.assertAlmostEqual(row["gflops"], count.total / 1e9, places=9, msg=arch)
        table = common.run_ptinfer(["models", "--gflops", "vit_b_32"]).stdout
        self.assertIn("GFLOPs", table)
        self.assertIn("%.2f" % rows[2]["gflops"], table)
        self.assertIn("1 architectures", table)

    def test_nodes_name_the_onednn_kernels_and_the_fallbacks(self):
        # Every convolution and linear layer of these torchvision models runs a oneDNN kernel
        # (nn.MultiheadAttention's input projection is a linear layer that is no nn.Linear), and
        # the attention's two matmuls per head group too; the other kinds are listed as LibTorch.
        archs = ["resnet18", "mobilenet_v3_small", "vit_b_32"]
        rows = json.loads(common.run_ptinfer(["models", "--json", "--nodes"] + archs).stdout)
        self.assertEqual([r["name"] for r in rows], archs)
        for row in rows:
            arch = row["name"]
            nodes = row["graph_nodes"]
            modules = list(torchvision.models.get_model(arch).modules())
            def count(kind):
                return sum(isinstance(m, kind) for m in modules)
            self.assertEqual(nodes.get("onednn::convolution", 0), count(torch.nn.Conv2d), arch)
            self.assertEqual(nodes.get("onednn::linear", 0),
                             count(torch.nn.Linear) + count(torch.nn.MultiheadAttention), arch)
            self.assertEqual(nodes.get("onednn::matmul", 0),
                             2 * count(torch.nn.MultiheadAttention), arch)
            self.assertEqual(nodes.get("aten::softmax", 0), count(torch.nn.MultiheadAttention),
                             arch)
            self.assertEqual(nodes.get("aten::max_pool2d", 0), count(torch.nn.MaxPool2d), arch)
        # The table says the same as the JSON: "graph: N nodes on oneDNN (convolution 1, ...);
        # M on LibTorch (aten::add 1, ...)", kinds in name order.
        nodes = rows[2]["graph_nodes"]
        onednn = {k: v for k, v in nodes.items() if k.startswith("onednn::")}
        libtorch = {k: v for k, v in nodes.items() if not k.startswith("onednn::")}
        expected = "graph: %d nodes on oneDNN (%s); %d on LibTorch (%s)" % (
            sum(onednn.values()),
            ", ".join("%s %d" % (k[len("onednn::"):], v) for k, v in sorted(onednn.items())),
            sum(libtorch.values()),
            ", ".join("%s %d" % (k, v) for k, v in sorted(libtorch.items())))
        table = common.run_ptinfer(["models", "--nodes", "vit_b_32"]).stdout
        self.assertIn(expected, table)

    def test_an_unknown_architecture_is_named(self):
        proc = common.run_ptinfer(["models", "resnet18", "resnet_50"], check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("unknown architecture 'resnet_50'", proc.stderr)
        self.assertNotIn("resnet18 ", proc.stdout)  # refused before anything is listed


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


def family_representatives():
    """The first architecture of each family in src/models/zoo.txt (the smallest, by the list's
    convention; the sanitizer build's parity test takes the same one)."""
    reps = {}
    with open(os.path.join(common.SOURCE_DIR, "src", "models", "zoo.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                family, archs = line.split(":", 1)
                reps[family.strip()] = archs.split()[0]
    return reps


def make_zoo_checkpoint(path, arch, num_classes, seed):
    """A checkpoint in the guide's format (epoch, arch, state_dict, best_acc1) of a torchvision
    model with random BatchNorm statistics and affine parameters. The state dict is saved as
    state_dict() returns it, with its _metadata (MNASNet's load_state_dict requires the version
    it records; the DataParallel prefix is tested elsewhere)."""
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(num_classes=num_classes)
    common.randomize_batch_norm(model)
    torch.save({"epoch": 2, "arch": arch, "state_dict": model.state_dict(),
                "best_acc1": torch.tensor(1.0)}, path)
    return path


class ZooFamilies(unittest.TestCase):
    """One model of every family: validate equals the guide's Python loop image by image, and
    finetune takes a step whose checkpoint torch.load reads and validate resumes."""

    CLASSES = ["a", "b", "c", "d", "e"]

    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_zoo_families_")
        cls.data = os.path.join(cls.tmp, "data")
        common.make_image_folder(os.path.join(cls.data, "val"), cls.CLASSES, per_class=1, seed=4)

    def same_predictions(self, arch, ckpt):
        """validate --resume ckpt gives, image by image, the reference loop's top-5 and scores."""
        ref_csv = os.path.join(self.tmp, arch + ".ref.csv")
        common.run_reference(["--data", self.data, "-a", arch, "--resume", ckpt, "-b", "5",
                              "--predictions", ref_csv])
        ours_csv = os.path.join(self.tmp, arch + ".ours.csv")
        common.run_ptinfer(["validate", "--data", self.data, "-a", arch, "--resume", ckpt,
                            "-b", "5", "--predictions", ours_csv])
        ref, ours = common.read_csv(ref_csv), common.read_csv(ours_csv)
        self.assertEqual(len(ours), len(self.CLASSES), arch)
        self.assertEqual([r["path"] for r in ours], [r["path"] for r in ref], arch)
        for a, b in zip(ours, ref):
            for k in range(1, 6):
                self.assertEqual(a["top%d" % k], b["top%d" % k], "%s %s" % (arch, a["path"]))
                self.assertAlmostEqual(float(a["score%d" % k]), float(b["score%d" % k]),
                                       delta=1e-4, msg="%s %s" % (arch, a["path"]))

    def test_validate_and_finetune_one_model_of_every_family(self):
        families = family_representatives()
        if SANITIZED:
            families = {f: a for f, a in families.items() if f in SANITIZED_FAMILIES}
        for family, arch in sorted(families.items()):
            with self.subTest(family=family, arch=arch):
                ckpt = make_zoo_checkpoint(os.path.join(self.tmp, arch + ".pth.tar"), arch,
                                           len(self.CLASSES), seed=len(arch))
                self.same_predictions(arch, ckpt)
                tuned = os.path.join(self.tmp, arch + ".tuned.pth.tar")
                common.run_ptinfer(["finetune", "--data", os.path.join(self.data, "val"), "-a", arch, "--resume",
                                    ckpt, "--epochs", "1", "--lr", "0.001", "-b", "5", "-j",
                                    "1", "--output", tuned])
                saved = torch.load(tuned, weights_only=True)
                model = getattr(torchvision.models, arch)(num_classes=len(self.CLASSES))
                state = saved["state_dict"]
                # Module versions as torchvision's own state_dict() records them (MNASNet
                # refuses a state dict without its version): every module torchvision versions
                # other than 1 (BatchNorm, MNASNet, MLPBlock, _DenseBlock) with that version,
                # and no module of both with different versions.
                ours, theirs = state._metadata, model.state_dict()._metadata
                for path, meta in theirs.items():
                    if meta.get("version", 1) != 1:
                        self.assertEqual(ours.get(path), meta, "%s %r" % (arch, path))
                    elif path in ours:
                        self.assertEqual(ours[path].get("version"), meta.get("version", 1),
                                         "%s %r" % (arch, path))
                model.load_state_dict(state)  # strict: every key and shape
                before = torch.load(ckpt)["state_dict"]
                moved = [k for k, v in saved["state_dict"].items()
                         if v.is_floating_point() and not torch.equal(v, before[k])]
                self.assertTrue(moved, "%s: finetune changed no weight" % arch)
                out = os.path.join(self.tmp, arch + ".tuned.json")
                common.run_ptinfer(["validate", "--data", self.data, "-a", arch, "--resume",
                                    tuned, "-b", "5", "--json", out])
                with open(out) as f:
                    self.assertEqual(json.load(f)["summary"]["images"], len(self.CLASSES))
                for path in (ckpt, tuned):
                    os.remove(path)


class InspectNamesTheArchitecture(unittest.TestCase):
    """`inspect` tells an architecture from a bare state dict (no arch recorded) by its keys and
    shapes: efficientnet_b3 from b2 (the same keys, other shapes), and the fc.weight heads that
    ResNets, RegNets and ShuffleNets share."""

    ARCHS = ["efficientnet_b2", "efficientnet_b3", "regnet_x_400mf", "shufflenet_v2_x0_5",
             "mnasnet0_5", "resnet18"]

    def test_bare_state_dicts(self):
        tmp = common.scratch_dir(self, "ptinfer_zoo_inspect_")
        for arch in self.ARCHS:
            with self.subTest(arch=arch):
                path = os.path.join(tmp, arch + ".pth")
                model = getattr(torchvision.models, arch)(num_classes=7)
                torch.save(model.state_dict(), path)
                info = json.loads(common.run_ptinfer(["inspect", path, "--json"]).stdout)
                self.assertNotIn("arch", info["metadata"])
                self.assertEqual(info["num_classes"], 7)
                self.assertEqual(info["architecture"], arch)
                os.remove(path)


@unittest.skipIf(SANITIZED, "a 384-pixel ViT's finetune under the sanitizers; the Release run "
                 "takes it")
class InputSizeFromTheWeights(unittest.TestCase):
    """A ViT trained at 384 (its positional embedding fixes the size): validate, predict and
    finetune crop at 384 without being told, validate equals the Python loop built with
    image_size=384 (the guide's Resize:CenterCrop ratio, 256:224, kept: Resize(439)), inspect
    names it from its shapes, and an explicit crop of another size is refused naming the file."""

    ARCH = "vit_b_32"
    SIZE = 384
    CLASSES = ["a", "b"]

    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_zoo_input_size_")
        cls.data = os.path.join(cls.tmp, "data")
        common.make_image_folder(os.path.join(cls.data, "val"), cls.CLASSES, per_class=2, seed=9)
        torch.manual_seed(3)
        model = torchvision.models.vit_b_32(num_classes=len(cls.CLASSES), image_size=cls.SIZE)
        with torch.no_grad():  # a zero head would give every image the same scores
            model.heads.head.weight.normal_(0, 0.05)
            model.heads.head.bias.normal_(0, 0.05)
        cls.ckpt = os.path.join(cls.tmp, "vit384.pth.tar")
        torch.save({"epoch": 1, "arch": cls.ARCH, "state_dict": model.state_dict()}, cls.ckpt)

    def test_validate_follows_the_weights_and_equals_the_python_loop(self):
        ref_csv = os.path.join(self.tmp, "ref.csv")
        common.run_reference(["--data", self.data, "-a", self.ARCH, "--resume", self.ckpt,
                              "--image-size", str(self.SIZE), "--resize-size", "439",
                              "--crop-size", str(self.SIZE), "-b", "4",
                              "--predictions", ref_csv])
        ours_csv = os.path.join(self.tmp, "ours.csv")
        summary = os.path.join(self.tmp, "ours.json")
        proc = common.run_ptinfer(["validate", "--data", self.data, "-a", self.ARCH, "--resume",
                                   self.ckpt, "-b", "4", "--predictions", ours_csv,
                                   "--json", summary])
        self.assertIn("fixes the input size to 384x384", proc.stdout)
        with open(summary) as f:
            config = json.load(f)["config"]
        self.assertEqual((config["resize_size"], config["crop_size"]), (439, self.SIZE))
        self.assertEqual(config["input_size_from_weights"], self.SIZE)
        ref, ours = common.read_csv(ref_csv), common.read_csv(ours_csv)
        self.assertEqual([r["path"] for r in ours], [r["path"] for r in ref])
        for a, b in zip(ours, ref):
            self.assertEqual(a["top1"], b["top1"], a["path"])
            self.assertAlmostEqual(float(a["score1"]), float(b["score1"]), delta=1e-4,
                                   msg=a["path"])

    def test_predict_and_finetune_follow_the_weights(self):
        images = os.path.join(self.data, "val")
        out = os.path.join(self.tmp, "pred.json")
        common.run_ptinfer(["predict", "-a", self.ARCH, "--resume", self.ckpt, "-k", "1",
                            "--json", out, images])
        with open(out) as f:
            self.assertEqual(len(json.load(f)), 2 * len(self.CLASSES))
        tuned = os.path.join(self.tmp, "tuned.pth.tar")
        proc = common.run_ptinfer(["finetune", "--data", images, "-a", self.ARCH, "--resume",
                                   self.ckpt, "--epochs", "1", "-b", "4", "-j", "1",
                                   "--output", tuned])
        self.assertIn("fixes the input size to 384x384", proc.stdout)
        state = torch.load(tuned, weights_only=True)["state_dict"]
        self.assertEqual(list(state["encoder.pos_embedding"].shape), [1, 145, 768])

    def test_inspect_names_it_from_a_bare_state_dict(self):
        bare = os.path.join(self.tmp, "vit384_bare.pth")
        torch.save(torch.load(self.ckpt, weights_only=True)["state_dict"], bare)
        info = json.loads(common.run_ptinfer(["inspect", bare, "--json"]).stdout)
        self.assertNotIn("arch", info["metadata"])
        self.assertEqual(info["architecture"], self.ARCH)
        os.remove(bare)

    def test_an_explicit_crop_of_another_size_is_refused(self):
        proc = common.run_ptinfer(["validate", "--data", self.data, "-a", self.ARCH, "--resume",
                                   self.ckpt, "--crop-size", "224"], check=False)
        self.assertNotEqual(proc.returncode, 0)
        err = proc.stdout + proc.stderr
        self.assertIn("crop size 224 does not fit", err)
        self.assertIn(self.ckpt, err)
        self.assertIn("384x384", err)


if __name__ == "__main__":
    unittest.main()
