#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) with Debian's PyTorch and PIL.

Seeds are starting inputs for libFuzzer, not expected outputs: they are generated once by this
script and committed (small files, well under 1 MB in all). Rerun it after changing what the
readers accept:   /usr/bin/python3 fuzz/make_seed_corpus.py [--out fuzz/corpus]

Files named regress_* are not written here: they are inputs on which a fuzz target once found
a bug, kept as seeds so that every run replays them.

Each seed is small on purpose (tiny tensors and images): libFuzzer mutates faster and reaches
the parsers' branches sooner when inputs are a few hundred bytes.
"""
import argparse
import collections
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np
import torch
from PIL import Image


def checkpoints():
    """(name, object) pairs covering what the readers accept: wrappers, metadata, dtypes, views,
    parameters and the non-tensor values training scripts save."""
    g = torch.Generator().manual_seed(0)
    base = torch.randn(6, generator=g)
    sd = collections.OrderedDict(
        [("fc.weight", torch.randn(2, 3, generator=g)), ("fc.bias", torch.zeros(2)),
         ("bn.num_batches_tracked", torch.tensor(5))])
    yield "state_dict", sd
    yield "guide", {"epoch": 3, "arch": "resnet18",
                    "state_dict": collections.OrderedDict(("module." + k, v) for k, v in sd.items()),
                    "best_acc1": torch.tensor(75.5), "classes": ["cat", "dog"],
                    "optimizer": {"state": {0: {"momentum_buffer": torch.ones(2)}},
                                  "param_groups": [{"lr": 0.1, "params": [0]}]}}
    yield "values", {"args": argparse.Namespace(lr=0.1, arch="resnet50", gpu=None),
                     "np_float": np.float64(1.5), "np_int": np.int64(7),
                     "np_array": np.arange(4, dtype=np.int32), "device": torch.device("cpu"),
                     "set": {1, 2}, "frozen": frozenset(["a"]), "tuple": (1, "a", None, True),
                     "bytes": b"xy", "float": 2.5, "big": 2 ** 70, "neg": -3,
                     "state_dict_ema": {"w": torch.ones(1)}}
    yield "dtypes", {"f16": torch.randn(3, generator=g).half(),
                     "bf16": torch.randn(3, generator=g).bfloat16(),
                     "f64": torch.randn(2, generator=g).double(), "i64": torch.arange(3),
                     "i8": torch.tensor([-1, 2], dtype=torch.int8),
                     "u8": torch.tensor([1, 255], dtype=torch.uint8),
                     "bool": torch.tensor([True, False]), "i32": torch.tensor([1], dtype=torch.int32),
                     "empty": torch.zeros(0, 3), "scalar": torch.tensor(1.0)}
    yield "views", {"base": base, "slice": base[1:4], "t": base.view(2, 3).t(),
                    "param": torch.nn.Parameter(torch.ones(2)), "model": None,
                    "_orig_mod.x": base[::2]}


def write(out, sub, name, data):
    d = os.path.join(out, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def torch_save(obj, **kwargs):
    buf = io.BytesIO()  # the archive folder is then "archive/", whatever the file is called
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


class Reduce:
    """Pickles as a call of `func(*args)` (what a hostile checkpoint does); never called here."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def pickles():
    """Pickles outside torch.save: hostile globals, deep nesting, memo cycles, protocol 4."""
    yield "os_system.pkl", pickle.dumps(Reduce(os.system, ("true",)), protocol=2)
    yield "eval.pkl", pickle.dumps({"x": Reduce(eval, ("1",))}, protocol=2)
    nested = []
    for _ in range(50):
        nested = [nested]
    yield "nested.pkl", pickle.dumps(nested, protocol=2)
    cyclic = [1]
    cyclic.append(cyclic)
    yield "cycle.pkl", pickle.dumps({"a": cyclic, ("t", 1): {"k": 1.5}}, protocol=2)
    yield "proto4.pkl", pickle.dumps({"s": "x" * 10, "b": b"\x00\x01", "f": 0.5, "l": [1, 2]},
                                     protocol=4)


def safetensors(tensors, metadata=None):
    """The documented safetensors layout: u64 header length, JSON header, raw LE bytes."""
    codes = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
             torch.float64: "F64", torch.int64: "I64", torch.int32: "I32", torch.int16: "I16",
             torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL"}
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": codes[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def images():
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8), "RGB")
    big = Image.fromarray(rng.integers(0, 256, (16, 18, 3), dtype=np.uint8), "RGB")

    def save(img, fmt, **kw):
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        return buf.getvalue()

    yield "rgb.jpg", save(rgb, "JPEG", quality=90)
    yield "420.jpg", save(big, "JPEG", quality=75, subsampling=2)
    yield "444_progressive.jpg", save(big, "JPEG", quality=60, subsampling=0, progressive=True)
    yield "gray.jpg", save(rgb.convert("L"), "JPEG")
    yield "cmyk.jpg", save(rgb.convert("CMYK"), "JPEG")
    yield "restart.jpg", save(big, "JPEG", restart_marker_blocks=1)
    yield "rgb.png", save(rgb, "PNG")
    yield "rgba.png", save(rgb.convert("RGBA"), "PNG")
    yield "gray_alpha.png", save(rgb.convert("LA"), "PNG")
    yield "palette_trns.png", save(rgb.convert("P"), "PNG", transparency=0)
    yield "bilevel.png", save(rgb.convert("1"), "PNG")
    yield "gray16.png", save(Image.fromarray((np.arange(35).reshape(5, 7) * 1900).astype(np.uint16)),
                             "PNG")
    yield "rgb24.bmp", save(rgb, "BMP")
    yield "palette8.bmp", save(rgb.convert("P"), "BMP")
    yield "bilevel1.bmp", save(rgb.convert("1"), "BMP")
    yield "gray8.bmp", save(rgb.convert("L"), "BMP")
    yield "rgba32.bmp", save(rgb.convert("RGBA"), "BMP")
    bottom_up = bytearray(save(rgb, "BMP"))
    height = struct.unpack_from("<i", bottom_up, 22)[0]
    struct.pack_into("<i", bottom_up, 22, -height)  # a top-down BMP: negative height
    yield "top_down.bmp", bytes(bottom_up)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "corpus"))
    out = parser.parse_args().out
    torch.manual_seed(0)
    for name, obj in checkpoints():
        z = torch_save(obj)
        write(out, "zip", name + ".pt", z)
        with zipfile.ZipFile(io.BytesIO(z)) as archive:
            write(out, "pickle", name + ".pkl", archive.read("archive/data.pkl"))
        write(out, "legacy", name + ".pth",
              torch_save(obj, _use_new_zipfile_serialization=False))
    write(out, "zip", "proto4.pt", torch_save({"w": torch.ones(2)}, pickle_protocol=4))
    for name, data in pickles():
        write(out, "pickle", name, data)
    g = torch.Generator().manual_seed(1)
    write(out, "safetensors", "f32.safetensors",
          safetensors({"fc.weight": torch.randn(2, 3, generator=g), "fc.bias": torch.zeros(2)}))
    write(out, "safetensors", "dtypes_metadata.safetensors",
          safetensors({"h": torch.ones(3).half(), "bf": torch.ones(2).bfloat16(),
                       "d": torch.ones(1).double(), "l": torch.arange(2),
                       "i": torch.tensor([3], dtype=torch.int32),
                       "s": torch.tensor([4], dtype=torch.int16),
                       "c": torch.tensor([-1], dtype=torch.int8),
                       "u": torch.tensor([7], dtype=torch.uint8), "b": torch.tensor([True]),
                       "empty": torch.zeros(0, 2), "scalar": torch.tensor(2.0)},
                      {"format": "pt", "arch": "resnet18"}))
    for name, data in images():
        write(out, "image_decode", name, data)


if __name__ == "__main__":
    main()
