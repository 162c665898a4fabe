"""Writes the checkpoint reader's test fixtures with torch.save, and a manifest.json describing
what PyTorch itself reads back from each file (torch.load is the oracle: names, shapes, strides,
dtypes and every value).

Run: /usr/bin/python3 make_checkpoint_fixtures.py --out DIR
"""
import argparse
import collections
import json
import os
import pickle
import shutil
import zipfile

import torch
import torch.nn as nn


class TinyNet(nn.Module):
    """A torchvision-like module. Its C++ twin is in state_dict_loading_test.cpp."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.layer1 = nn.Sequential(nn.Conv2d(4, 4, 1), nn.BatchNorm2d(4))
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        return self.fc(x.mean((2, 3)))


def make_net(seed):
    torch.manual_seed(seed)
    net = TinyNet()
    # Non-trivial BatchNorm statistics, as a trained model has.
    for bn in (net.bn1, net.layer1[1]):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.num_batches_tracked.fill_(1234)
    return net


def flat_values(t):
    """Every element in row-major order of the (possibly non-contiguous) tensor, as JSON
    numbers: complex as [re, im] pairs flattened, bool as 0/1, low precision floats exactly."""
    t = t.detach().contiguous()
    if t.is_complex():
        t = torch.view_as_real(t)
    if t.dtype == torch.bool:
        t = t.to(torch.int64)
    if t.is_floating_point():
        return [float(x) for x in t.double().flatten().tolist()]
    return [int(x) for x in t.flatten().tolist()]


def describe(t):
    return {
        "shape": list(t.shape),
        "stride": list(t.stride()),
        "storage_offset": t.storage_offset(),
        "dtype": str(t.dtype).replace("torch.", ""),
        "values": flat_values(t),
    }


def manifest_entry(path):
    """What torch.load sees in `path`: the state dict (under the same rules as the C++ reader)
    and the metadata."""
    obj = torch.load(path, map_location="cpu")
    entry = {}
    sd = obj
    if "state_dict" in obj:
        sd = obj["state_dict"]
    elif "model" in obj:
        sd = obj["model"]
    names = list(sd.keys())
    if names and all(n.startswith("module.") for n in names):
        names = [n[len("module."):] for n in names]
    entry["tensors"] = [dict(name=n, **describe(t)) for n, t in zip(names, sd.values())]
    if sd is not obj:
        if "epoch" in obj:
            entry["epoch"] = int(obj["epoch"])
        if "arch" in obj:
            entry["arch"] = obj["arch"]
        if "best_acc1" in obj:
            entry["best_acc1"] = float(obj["best_acc1"])
        if "classes" in obj:
            entry["classes"] = list(obj["classes"])
        skip = {"state_dict" if "state_dict" in obj else "model", "epoch", "arch", "best_acc1",
                "classes"}
        entry["other_keys"] = [k for k in obj.keys() if k not in skip]
    return entry


class Evil:
    """Pickles as a call of os.system: what a malicious checkpoint does."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def encode(v):
    """A tagged JSON form of a plain Python value, for comparing our unpickler's tree."""
    if v is None:
        return {"none": None}
    if isinstance(v, bool):
        return {"bool": v}
    if isinstance(v, int):
        return {"int": v}
    if isinstance(v, float):
        return {"float": v}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, bytes):
        return {"bytes": list(v)}
    if isinstance(v, tuple):
        return {"tuple": [encode(x) for x in v]}
    if isinstance(v, list):
        return {"list": [encode(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[encode(k), encode(x)] for k, x in v.items()]}
    raise TypeError(type(v))


def replace_record(src, dst, record_suffix, data):
    """Copies zip `src` to `dst` with the record ending in `record_suffix` replaced by `data`."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            payload = data if info.filename.endswith(record_suffix) else zin.read(info.filename)
            zout.writestr(info, payload)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = args.out
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    manifest = {}

    def save(name, obj, **kwargs):
        path = os.path.join(out, name)
        torch.save(obj, path, **kwargs)
        return path

    # 1. A bare state dict (an OrderedDict carrying _metadata, saved by BUILD).
    net = make_net(0)
    path = save("bare_state_dict.pth", net.state_dict())
    manifest["bare_state_dict.pth"] = manifest_entry(path)
    assert hasattr(torch.load(path), "_metadata")

    # 2. The guide's training checkpoint: DataParallel keys, best_acc1 a tensor, SGD state.
    model = nn.DataParallel(make_net(1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    loss = model(torch.randn(2, 3, 8, 8)).sum()
    loss.backward()
    optimizer.step()
    path = save("training.pth.tar", {
        "epoch": 90,
        "arch": "resnet18",
        "state_dict": model.state_dict(),
        "best_acc1": torch.tensor(76.125),
        "optimizer": optimizer.state_dict(),
    })
    manifest["training.pth.tar"] = manifest_entry(path)
    assert manifest["training.pth.tar"]["other_keys"] == ["optimizer"]

    # 3. {'model': sd} with class names, and an extra nested entry.
    path = save("model_key.pth", {
        "model": make_net(2).state_dict(),
        "classes": ["cat", "dog", "bird"],
        "epoch": 7,
        "args": {"lr": 0.1, "nested": [1, (2.5, None, True), {"x": b"\x00\xff"}]},
    })
    manifest["model_key.pth"] = manifest_entry(path)

    # 4. Every dtype torch.save writes a storage for.
    torch.manual_seed(3)
    base = torch.randn(2, 3, dtype=torch.float64) * 1000
    dtypes = {
        "float32": base.float(), "float64": base, "float16": base.half(),
        "bfloat16": base.bfloat16(),
        "int8": torch.tensor([-128, -1, 0, 1, 127], dtype=torch.int8),
        "int16": torch.tensor([-32768, -2, 3, 32767], dtype=torch.int16),
        "int32": torch.tensor([-2**31, -5, 7, 2**31 - 1], dtype=torch.int32),
        "int64": torch.tensor([-2**63, -9, 11, 2**63 - 1], dtype=torch.int64),
        "uint8": torch.tensor([0, 1, 128, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "complex64": torch.complex(base.float(), -base.float()),
        "complex128": torch.complex(base, base * 2),
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 4),
    }
    path = save("dtypes.pth", collections.OrderedDict(dtypes))
    manifest["dtypes.pth"] = manifest_entry(path)

    # 5. Shared storage: views with offsets and non-contiguous strides.
    t = torch.arange(100.0).reshape(10, 10)
    path = save("shared_views.pth", {"a": t, "b": t[2:5, 1::2], "c": t.t(), "d": t[7]})
    manifest["shared_views.pth"] = manifest_entry(path)
    with zipfile.ZipFile(path) as z:
        storages = [n for n in z.namelist() if "/data/" in n]
        assert len(storages) == 1, storages  # one storage shared by four tensors

    # 6. fp16 weights, to load into an fp32 model.
    path = save("fp16_weights.pth", make_net(4).half().state_dict())
    manifest["fp16_weights.pth"] = manifest_entry(path)

    # 7. Broken files.
    good = os.path.join(out, "bare_state_dict.pth")
    data = open(good, "rb").read()
    open(os.path.join(out, "truncated.pth"), "wb").write(data[: len(data) // 2])
    open(os.path.join(out, "empty.pth"), "wb").close()
    with open(os.path.join(out, "text.pth"), "w") as f:
        f.write("this is not a checkpoint\n")
    save("legacy.pth", net.state_dict(), _use_new_zipfile_serialization=False)
    pickle.dump({"a": 1}, open(os.path.join(out, "bare_pickle.pkl"), "wb"), protocol=2)
    # A valid archive whose data.pkl holds an unknown opcode (0xff) after PROTO 2.
    replace_record(good, os.path.join(out, "bad_opcode.pth"), "/data.pkl", b"\x80\x02\xff.")
    # A valid archive whose tensor storage record is gone.
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(
            os.path.join(out, "missing_storage.pth"), "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if not info.filename.endswith("/data/0"):
                zout.writestr(info, zin.read(info.filename))
    # A storage record shorter than its tensor.
    replace_record(good, os.path.join(out, "short_storage.pth"), "/data/0", b"\x00" * 8)

    # 8. Malicious: unpickling would run os.system('touch MARKER').
    marker = os.path.join(out, "MARKER_created_by_malicious_pickle")
    path = save("malicious.pth", {"w": torch.ones(2), "payload": Evil("touch " + marker)})
    assert not os.path.exists(marker)
    manifest["malicious.pth"] = {"marker": marker}

    # 9. Plain pickles (protocol 2, as torch.save writes) for the interpreter's own tests.
    nested = {"ints": [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31, -2**63,
                       2**63 - 1],
              "floats": [0.0, -1.5, 1e300, 3.141592653589793],
              "strs": ["", "ascii", "ünïcödé", "x" * 300],
              "tuple": (1, (2, (3,)), ()), "none": None, "flags": [True, False],
              "bytes": b"\x00\x01\xfe", 7: "int key", ("a", 1): "tuple key"}
    shared = [1, 2]
    nested["shared"] = [shared, shared]
    with open(os.path.join(out, "nested.pkl"), "wb") as f:
        pickle.dump(nested, f, protocol=2)
    with open(os.path.join(out, "nested.pkl"), "rb") as f:
        manifest["nested.pkl"] = {"value": encode(pickle.load(f))}

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
