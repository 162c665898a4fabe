"""`ptinfer predict`: the same top-k as PyTorch for each image, with class names from --labels
(TorchServe's index_to_name.json or a text file) or from the checkpoint's recorded classes."""
import json
import os
import unittest

import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

import common


class Predict(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_predict_")
        cls.images = common.make_image_folder(os.path.join(cls.tmp, "imgs"), ["x"], 6, seed=3)
        cls.ckpt = common.make_guide_checkpoint(os.path.join(cls.tmp, "m.pth"), "resnet18", 6,
                                                seed=5, half=True)
        checkpoint = torch.load(cls.ckpt)
        state = {k[len("module."):]: v for k, v in checkpoint["state_dict"].items()}
        model = torchvision.models.resnet18(num_classes=6)
        model.load_state_dict(state)
        model.eval()
        tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        cls.paths = sorted(os.path.join(cls.images, "x", f)
                           for f in os.listdir(os.path.join(cls.images, "x")))
        with torch.no_grad():
            x = torch.stack([tf(Image.open(p).convert("RGB")) for p in cls.paths])
            probs = torch.softmax(model(x), 1)
        cls.ref_scores, cls.ref_indices = probs.topk(3, 1)
        cls.names = ["n%d" % i for i in range(6)]

    def check(self, result, names):
        self.assertEqual([r["path"] for r in result], self.paths)
        for r, idx, sc in zip(result, self.ref_indices, self.ref_scores):
            self.assertEqual([t["index"] for t in r["topk"]], idx.tolist(), r["path"])
            self.assertEqual([t["label"] for t in r["topk"]], [names[i] for i in idx.tolist()])
            for t, s in zip(r["topk"], sc.tolist()):
                self.assertAlmostEqual(t["score"], s, delta=1e-5)

    def predict(self, *extra):
        out = os.path.join(self.tmp, "p%d.json" % len(os.listdir(self.tmp)))
        proc = common.run_ptinfer(["predict", "-a", "resnet18", "--resume", self.ckpt, "--topk",
                                   "3", "--json", out] + list(extra))
        with open(out) as f:
            return proc, json.load(f)

    def test_folder_with_index_to_name_json(self):
        labels = os.path.join(self.tmp, "index_to_name.json")
        with open(labels, "w") as f:
            json.dump({str(i): ["wnid%d" % i, n] for i, n in enumerate(self.names)}, f)
        proc, result = self.predict("--labels", labels, self.images)
        self.check(result, self.names)
        self.assertIn(self.paths[0], proc.stdout)

    def test_files_with_text_labels(self):
        labels = os.path.join(self.tmp, "labels.txt")
        with open(labels, "w") as f:
            f.write("\n".join(self.names) + "\n")
        _, result = self.predict("--labels", labels, *self.paths)
        self.check(result, self.names)

    def test_indices_without_labels_and_errors(self):
        _, result = self.predict(*self.paths)
        self.check(result, [str(i) for i in range(6)])
        bad = os.path.join(self.tmp, "bad.json")
        with open(bad, "w") as f:
            f.write('{"0": "a", "x": "b"}')
        proc = common.run_ptinfer(["predict", "-a", "resnet18", "--resume", self.ckpt,
                                   "--labels", bad, self.paths[0]], check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("key 'x'", proc.stderr)
        missing = os.path.join(self.tmp, "missing.jpg")
        proc = common.run_ptinfer(["predict", "-a", "resnet18", "--resume", self.ckpt, missing],
                                  check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(missing, proc.stderr)


if __name__ == "__main__":
    unittest.main()
