"""Checkpoint formats through the CLI: `ptinfer inspect` reports what torch.load sees, legacy
(non-zip) and wrapped checkpoints give PyTorch's predictions, hostile files are refused."""
import argparse
import json
import os
import struct
import unittest
import zipfile

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

import common


# safetensors by hand, following the documented format (python3-safetensors is not in Debian):
# u64 little-endian header length, JSON header, raw little-endian data.
ST_DTYPES = {torch.float64: "F64", torch.float32: "F32", torch.float16: "F16",
             torch.bfloat16: "BF16", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
             torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}


def write_safetensors(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    names = {v: k for k, v in ST_DTYPES.items()}
    tensors = {}
    ends = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        ends.append((begin, end))
        raw = bytearray(body[begin:end])
        t = torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        tensors[name] = t.view(names[info["dtype"]]).reshape(info["shape"])
    ends.sort()
    # The format's rules: data is covered exactly, without holes or overlaps.
    assert [b for b, _ in ends] == [0] + [e for _, e in ends[:-1]], ends
    assert (ends[-1][1] if ends else 0) == len(body)
    return header.get("__metadata__", {}), tensors


def model_and_state(arch, num_classes, seed):
    torch.manual_seed(seed)
    model = torchvision.models.__dict__[arch](num_classes=num_classes)
    common.randomize_batch_norm(model)  # non-trivial BatchNorm, as a trained model has
    return model.eval(), model.state_dict()


class CheckpointFormats(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = common.scratch_dir(cls, "ptinfer_ckpt_formats_")
        cls.images = common.make_image_folder(os.path.join(cls.tmp, "imgs"), ["x"], 3, seed=11)
        cls.paths = sorted(os.path.join(cls.images, "x", f)
                           for f in os.listdir(os.path.join(cls.images, "x")))
        tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                        T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        cls.batch = torch.stack([tf(Image.open(p).convert("RGB")) for p in cls.paths])
        cls.model, cls.sd = model_and_state("resnet18", 5, seed=2)
        _, cls.ema_sd = model_and_state("resnet18", 5, seed=3)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def inspect(self, path, *extra):
        proc = common.run_ptinfer(["inspect", path, "--json"] + list(extra))
        return json.loads(proc.stdout)

    def expect_predictions(self, ckpt, state_dict, *extra):
        """ptinfer predict's top-3 equals PyTorch's for `state_dict` loaded into resnet18."""
        model = torchvision.models.resnet18(num_classes=5)
        model.load_state_dict(state_dict)
        model.eval()
        with torch.no_grad():
            scores, indices = torch.softmax(model(self.batch), 1).topk(3, 1)
        out = self.path("pred_%d.json" % len(os.listdir(self.tmp)))
        common.run_ptinfer(["predict", "-a", "resnet18", "--resume", ckpt, "--topk", "3",
                            "--json", out] + list(extra) + [self.images])
        with open(out) as f:
            result = json.load(f)
        self.assertEqual([r["path"] for r in result], self.paths)
        for r, idx, sc in zip(result, indices, scores):
            self.assertEqual([t["index"] for t in r["topk"]], idx.tolist(), ckpt)
            for t, s in zip(r["topk"], sc.tolist()):
                self.assertAlmostEqual(t["score"], s, delta=1e-5)

    def test_inspect_legacy_guide_checkpoint(self):
        ckpt = self.path("legacy_guide.pth.tar")
        dp = {"module." + k: v for k, v in self.sd.items()}
        torch.save({"epoch": 31, "arch": "resnet18", "state_dict": dp,
                    "best_acc1": torch.tensor(42.75), "optimizer": {"state": {}}}, ckpt,
                   _use_new_zipfile_serialization=False)
        self.assertFalse(zipfile.is_zipfile(ckpt))
        info = self.inspect(ckpt)
        loaded = torch.load(ckpt)
        self.assertEqual(info["format"], "legacy")
        self.assertEqual(info["top_level_keys"], list(loaded.keys()))
        self.assertEqual(info["state_dict_key"], "state_dict")
        self.assertEqual(info["stripped_prefixes"], ["module."])
        self.assertEqual(info["metadata"], {"epoch": 31, "arch": "resnet18",
                                            "best_acc1": float(loaded["best_acc1"])})
        self.assertEqual(info["other_keys"], ["optimizer"])
        sd = loaded["state_dict"]
        self.assertEqual(info["tensors"], len(sd))
        self.assertEqual(info["parameters"], sum(p.numel() for p in self.model.parameters()))
        dtypes = {}
        for t in sd.values():
            d = dtypes.setdefault(str(t.dtype).replace("torch.", ""),
                                  {"tensors": 0, "elements": 0, "bytes": 0})
            d["tensors"] += 1
            d["elements"] += t.numel()
            d["bytes"] += t.numel() * t.element_size()
        self.assertEqual(info["dtypes"], dtypes)
        self.assertEqual(info["head"], {"key": "fc.weight", "shape": [5, 512]})
        self.assertEqual(info["num_classes"], 5)
        self.assertEqual(info["architecture"], "resnet18")
        self.expect_predictions(ckpt, self.sd)

    def test_legacy_fp16_state_dict(self):
        ckpt = self.path("legacy_fp16.pth")
        half = {k: v.half() if v.is_floating_point() else v for k, v in self.sd.items()}
        torch.save(half, ckpt, _use_new_zipfile_serialization=False)
        info = self.inspect(ckpt)
        self.assertEqual(info["format"], "legacy")
        self.assertEqual(info["state_dict_key"], "")
        self.assertIn("float16", info["dtypes"])
        # PyTorch's own result for these fp16 weights loaded into an fp32 model.
        self.expect_predictions(ckpt, {k: v.float() if v.is_floating_point() else v
                                       for k, v in torch.load(ckpt).items()})

    def test_ema_default_and_explicit_key_with_extras(self):
        ckpt = self.path("ema_extras.pth")
        torch.save({
            "state_dict": {"_orig_mod." + k: v for k, v in self.sd.items()},
            "state_dict_ema": {"module." + k: v for k, v in self.ema_sd.items()},
            "args": argparse.Namespace(model="resnet18", lr=0.5, devices=[0, 1]),
            "epoch": np.int64(9), "best_acc1": np.float64(12.5),
            "np_array": np.arange(4, dtype=np.float32), "device": torch.device("cuda", 1),
            "tags": {"a", "b"}, "shape": (1, 2),
        }, ckpt)
        info = self.inspect(ckpt)
        self.assertEqual(info["state_dict_key"], "state_dict_ema")  # timm's default: EMA first
        # args.model names the architecture (torchvision's reference scripts' layout).
        self.assertEqual(info["metadata"], {"epoch": 9, "best_acc1": 12.5, "arch": "resnet18"})
        self.assertEqual(info["architecture"], "resnet18")
        info = self.inspect(ckpt, "--checkpoint-key", "state_dict")
        self.assertEqual(info["state_dict_key"], "state_dict")
        self.assertEqual(info["stripped_prefixes"], ["_orig_mod."])
        self.expect_predictions(ckpt, self.ema_sd)

    def test_apex_o2_checkpoint(self):
        # As Apex O2 (keep_batchnorm_fp32) leaves a model, built by hand: fp16 weights, fp32
        # BatchNorm, amp.state_dict() saved beside it.
        model = torchvision.models.resnet18(num_classes=5)
        model.load_state_dict(self.sd)
        model.half()
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.float()
        ckpt = self.path("apex_o2.pth.tar")
        torch.save({"epoch": 2, "arch": "resnet18",
                    "state_dict": {"module." + k: v for k, v in model.state_dict().items()},
                    "best_acc1": torch.tensor(10.0),
                    "amp": {"loss_scaler0": {"loss_scale": 1024.0, "unskipped": 0}}}, ckpt)
        info = self.inspect(ckpt)
        self.assertEqual(info["amp"], {"loss_scaler0": {"loss_scale": 1024.0, "unskipped": 0}})
        self.assertEqual(info["other_keys"], [])
        self.assertEqual(set(info["dtypes"]), {"float16", "float32", "int64"})
        self.assertEqual(info["architecture"], "resnet18")
        self.assertIn("amp: loss_scaler0 loss_scale 1024, unskipped 0",
                      common.run_ptinfer(["inspect", ckpt]).stdout)
        # PyTorch loading it into an fp32 model (load_state_dict casts).
        saved = torch.load(ckpt)["state_dict"]
        self.expect_predictions(ckpt, {k[len("module."):]: v for k, v in saved.items()})

    def test_convert_writes_safetensors_torch_users_read(self):
        ckpt = self.path("to_convert.pth.tar")
        torch.save({"epoch": 4, "arch": "resnet18",
                    "state_dict": {"module." + k: v for k, v in self.sd.items()},
                    "extra": torch.arange(3)}, ckpt, _use_new_zipfile_serialization=False)
        out = self.path("converted.safetensors")
        common.run_ptinfer(["convert", ckpt, out])
        metadata, tensors = read_safetensors(out)
        self.assertEqual(metadata, {"format": "pt", "arch": "resnet18", "epoch": "4"})
        self.assertEqual(sorted(tensors.keys()), sorted(self.sd.keys()))  # JSON: no order
        for k, v in self.sd.items():
            self.assertEqual(tensors[k].dtype, v.dtype, k)
            self.assertTrue(torch.equal(tensors[k], v), k)
        # And ptinfer reads it back: the same predictions as PyTorch.
        self.expect_predictions(out, self.sd)
        proc = common.run_ptinfer(["convert", ckpt, self.path("x.pt")], check=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(".safetensors", proc.stderr)

    def test_reads_safetensors_written_by_the_format(self):
        st = self.path("handmade.safetensors")
        half = {k: v.half() if v.is_floating_point() else v for k, v in self.sd.items()}
        write_safetensors(st, half, {"format": "pt"})
        info = self.inspect(st)
        self.assertEqual(info["format"], "safetensors")
        self.assertEqual(info["tensors"], len(half))
        self.assertEqual(info["architecture"], "resnet18")
        self.assertEqual(info["dtypes"]["float16"]["bytes"],
                         sum(v.numel() * 2 for v in half.values() if v.dtype == torch.float16))
        self.expect_predictions(st, {k: v.float() if v.is_floating_point() else v
                                     for k, v in half.items()})

    def test_broken_safetensors_are_refused(self):
        good = self.path("small.safetensors")
        write_safetensors(good, {"a": torch.arange(4.0), "b": torch.ones(2, dtype=torch.int64)})
        with open(good, "rb") as f:
            data = f.read()
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])

        def with_header(h, extra=b""):
            text = json.dumps(h).encode()
            return struct.pack("<Q", len(text)) + text + data[8 + n:] + extra

        cases = {
            "cut.safetensors": (data[:len(data) - 5], "outside"),
            "cut_header.safetensors": (data[:20], "does not fit"),
            "lying_offsets.safetensors": (with_header(dict(header, a={
                "dtype": "F32", "shape": [4], "data_offsets": [0, 1 << 40]})), "outside"),
            "lying_shape.safetensors": (with_header(dict(header, a={
                "dtype": "F32", "shape": [1 << 30, 1 << 30], "data_offsets": [0, 16]})),
                "elements"),
            "overlap.safetensors": (with_header(dict(header, b={
                "dtype": "I64", "shape": [2], "data_offsets": [8, 24]})), "overlap"),
            "bad_dtype.safetensors": (with_header(dict(header, a={
                "dtype": "X9", "shape": [4], "data_offsets": [0, 16]})), "dtype 'X9'"),
            "bad_json.safetensors": (struct.pack("<Q", 8) + b"{notjson", "not JSON"),
        }
        for name, (payload, needle) in cases.items():
            with open(self.path(name), "wb") as f:
                f.write(payload)
            proc = common.run_ptinfer(["inspect", self.path(name)], check=False)
            self.assertEqual(proc.returncode, 1, name + proc.stderr)
            self.assertIn(self.path(name), proc.stderr)
            self.assertIn(needle, proc.stderr, name)

    def test_unknown_architecture_has_no_match(self):
        ckpt = self.path("tiny.pth")
        torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(),
                                       torch.nn.Linear(4, 2)).state_dict(), ckpt)
        info = self.inspect(ckpt)
        self.assertEqual(info["head"], {"key": "2.weight", "shape": [2, 4]})
        self.assertIsNone(info["architecture"])

    def test_hostile_files_are_refused(self):
        marker = self.path("MARKER")

        class Evil:
            def __reduce__(self):
                return (os.system, ("touch " + marker,))

        cases = []
        torch.save({"w": torch.ones(2), "x": Evil()}, self.path("evil.pth"))
        cases.append(("evil.pth", "system' (not in the allow-list"))
        torch.save({"w": torch.ones(2), "x": Evil()}, self.path("evil_legacy.pth"),
                   _use_new_zipfile_serialization=False)
        cases.append(("evil_legacy.pth", "system' (not in the allow-list"))
        small = self.path("small.pth")
        torch.save({"w": torch.zeros(1)}, small)
        with zipfile.ZipFile(small) as zin, zipfile.ZipFile(self.path("bomb.pth"), "w") as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                if info.filename.endswith("/data/0"):
                    data = b"\0" * (32 << 20)
                zout.writestr(info.filename, data, zipfile.ZIP_DEFLATED)
        cases.append(("bomb.pth", "compressed"))
        torch.save(self.sd, self.path("full_legacy.pth"), _use_new_zipfile_serialization=False)
        with open(self.path("full_legacy.pth"), "rb") as f:
            data = f.read()
        for cut in (12, 40, len(data) // 3, len(data) - 7):
            name = "cut_%d.pth" % cut
            with open(self.path(name), "wb") as f:
                f.write(data[:cut])
            cases.append((name, "truncated"))
        for name, needle in cases:
            proc = common.run_ptinfer(["inspect", self.path(name)], check=False)
            self.assertEqual(proc.returncode, 1, name + proc.stderr)
            self.assertIn(self.path(name), proc.stderr)
            self.assertIn(needle, proc.stderr)
        self.assertFalse(os.path.exists(marker))


if __name__ == "__main__":
    unittest.main()
