"""Writes the checkpoint reader's test fixtures with torch.save, and a manifest.json describing
what PyTorch itself reads back from each file (torch.load is the oracle: names, shapes, strides,
dtypes and every value).

Run: /usr/bin/python3 make_checkpoint_fixtures.py --out DIR
"""
import argparse
import collections
import io
import json
import os
import pickle
import shutil
import struct
import zipfile

import numpy as np
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


WRAPPER_KEYS = ["state_dict_ema", "model_ema", "state_dict", "model"]  # timm's order


def manifest_entry(path, key=None):
    """What torch.load sees in `path`: the state dict (under the same rules as the C++ reader:
    `key`, or the first of WRAPPER_KEYS present and not None; wrapper prefixes stripped while
    every key has one) and the metadata."""
    obj = torch.load(path, map_location="cpu")
    entry = {}
    sd = obj
    sd_key = key or next((k for k in WRAPPER_KEYS if obj.get(k) is not None), None)
    if sd_key:
        sd = obj[sd_key]
    names = list(sd.keys())
    stripped = True
    while names and stripped:
        stripped = False
        for prefix in ("module.", "_orig_mod."):
            if all(n.startswith(prefix) for n in names):
                names = [n[len(prefix):] for n in names]
                stripped = True
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
        skip = {sd_key, "epoch", "arch", "best_acc1", "classes"}
        if is_apex_amp(obj.get("amp")):
            entry["amp"] = {k: {"loss_scale": float(v["loss_scale"]),
                                "unskipped": int(v["unskipped"])} for k, v in obj["amp"].items()}
            skip.add("amp")
        entry["other_keys"] = [k for k in obj.keys() if k not in skip]
    return entry


def is_apex_amp(v):
    """Apex's amp.state_dict(): {'loss_scaler0': {'loss_scale': 1024.0, 'unskipped': 0}}."""
    return (isinstance(v, dict) and len(v) > 0 and
            all(isinstance(s, dict) and "loss_scale" in s for s in v.values()))


def torchscript_entry(path):
    """What torch.jit.load sees in a TorchScript archive: the class and state_dict()."""
    module = torch.jit.load(path, map_location="cpu")
    return {"class": module.original_name, "qualified": module._c._type().qualified_name(),
            "tensors": [dict(name=n, **describe(t)) for n, t in module.state_dict().items()]}


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
    if isinstance(v, argparse.Namespace):
        return encode(vars(v))
    if isinstance(v, np.ndarray):
        return {"array": {"shape": list(v.shape), "values": flat_values(torch.from_numpy(
            np.ascontiguousarray(v)))}}
    if isinstance(v, np.generic):
        return encode(v.item())
    if isinstance(v, torch.device):
        return {"str": str(v)}
    if isinstance(v, (set, frozenset)):
        return {"list": [encode(x) for x in v]}  # pickle writes a set in iteration order
    raise TypeError(type(v))


class FakeStorage:
    """Stands for a storage in a hand-written legacy file (see write_legacy)."""

    def __init__(self, key, numel):
        self.key, self.numel = key, numel


def write_legacy(path, numel_claimed, data_numel):
    """A legacy-format file by hand: one float tensor {'w': ...} whose persistent id claims
    `numel_claimed` elements while `data_numel` floats follow (sizes that lie)."""
    f = io.BytesIO()
    for header in (0x1950a86a20f9469cfc6c, 1001,
                   {"protocol_version": 1001, "little_endian": True,
                    "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(header, f, protocol=2)

    class Rebuild:
        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2,
                    (FakeStorage("0", numel_claimed), 0, (data_numel,), (1,), False,
                     collections.OrderedDict()))

    pickler = pickle.Pickler(f, protocol=2)
    pickler.persistent_id = lambda o: (
        ("storage", torch.FloatStorage, o.key, "cpu", o.numel, None)
        if isinstance(o, FakeStorage) else None)
    pickler.dump({"w": Rebuild()})
    pickle.dump(["0"], f, protocol=2)
    f.write(struct.pack("<q", data_numel) + b"\0" * (4 * data_numel))
    open(path, "wb").write(f.getvalue())


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

    # A storage whose local header claims a 64 KiB extra field: its data would start past the
    # end of the file (the central directory says nothing about it).
    data = bytearray(open(good, "rb").read())
    info = [i for i in zipfile.ZipFile(good).infolist() if i.filename.endswith("/data/0")][0]
    assert data[info.header_offset:info.header_offset + 4] == b"PK\x03\x04"
    data[info.header_offset + 28:info.header_offset + 30] = (0xffff).to_bytes(2, "little")
    open(os.path.join(out, "storage_past_end.pth"), "wb").write(bytes(data))
    # Storage records at odd offsets (torch.save aligns them to 64 bytes; other zip writers need
    # not): a 1-byte extra field in front of each float32 storage misaligns it.
    path = os.path.join(out, "unaligned_storage.pth")
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if "/data/" in info.filename:
                info.extra = b"\xfe\xca\x01\x00x"  # id 0xcafe, 1 byte
            zout.writestr(info, zin.read(info.filename))
    with zipfile.ZipFile(path) as z:
        offsets = [i.header_offset + 30 + len(i.filename) + len(i.extra)
                   for i in z.infolist() if "/data/" in i.filename]
    assert any(o % 4 for o in offsets), offsets
    manifest["unaligned_storage.pth"] = manifest_entry(path)

    # 7b. Zip bombs: a 1-element storage record deflated from 64 MiB of zeros (torch.save never
    # compresses), and a stored record whose central directory entry claims 2 GiB.
    small = save("small.pth", {"w": torch.zeros(1)})
    with zipfile.ZipFile(small) as zin, zipfile.ZipFile(
            os.path.join(out, "zip_bomb.pth"), "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if info.filename.endswith("/data/0"):
                zout.writestr(info.filename, b"\0" * (64 << 20), zipfile.ZIP_DEFLATED)
            else:
                zout.writestr(info, zin.read(info.filename))
    data = bytearray(open(small, "rb").read())
    name = [n for n in zipfile.ZipFile(small).namelist() if n.endswith("/data/0")][0].encode()
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    data[entry + 20:entry + 28] = (2**31).to_bytes(4, "little") * 2  # compressed, uncompressed
    open(os.path.join(out, "lying_size.pth"), "wb").write(bytes(data))
    # The version record claiming 0xffffffff bytes without a zip64 field: LibTorch's reader reads
    # that record as it opens the archive.
    data = bytearray(open(small, "rb").read())
    name = [n for n in zipfile.ZipFile(small).namelist() if n.endswith("/version")][0].encode()
    entry = data.rfind(b"PK\x01\x02", 0, data.rfind(name))
    data[entry + 20:entry + 28] = (2**32 - 1).to_bytes(4, "little") * 2
    open(os.path.join(out, "lying_version_size.pth"), "wb").write(bytes(data))

    # 7b'. Archives LibTorch's reader refuses only after opening them (where it leaks): the same
    # records re-zipped with no folder, with a folder other than the first entry's, with no
    # version record, with a version that is not a number or out of LibTorch's range, and none.
    def rezip(name, rename=lambda n: n, replace=None):
        with zipfile.ZipFile(small) as zin, zipfile.ZipFile(
                os.path.join(out, name), "w", zipfile.ZIP_STORED) as zout:
            for info in zin.infolist():
                new = rename(info.filename)
                if new is None:
                    continue
                data = zin.read(info.filename)
                if replace and info.filename.endswith("/version"):
                    data = replace
                zout.writestr(new, data)
    rezip("no_folder.pth", lambda n: n.split("/", 1)[1])
    rezip("other_folder.pth", lambda n: n if n.endswith("data.pkl") else "other/" + n.split("/", 1)[1])
    rezip("no_version.pth", lambda n: None if n.endswith("/version") else n)
    rezip("version_not_a_number.pth", replace=b"three\n")
    rezip("version_99.pth", replace=b"99\n")
    rezip("version_0.pth", replace=b"0\n")
    data = bytearray(open(small, "rb").read())  # records, but a directory listing none
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 16] = bytes(8)  # entries (this disk, all), directory size
    open(os.path.join(out, "empty_zip.pth"), "wb").write(bytes(data))

    # 7c. The legacy format (_use_new_zipfile_serialization=False), as PyTorch < 1.6 wrote.
    legacy = {
        "legacy.pth": net.state_dict(),
        "legacy_training.pth.tar": {
            "epoch": 12, "arch": "resnet18",
            "state_dict": nn.DataParallel(make_net(5)).state_dict(),
            "best_acc1": torch.tensor(55.5), "optimizer": optimizer.state_dict()},
        "legacy_shared_views.pth": {"a": t, "b": t[2:5, 1::2], "c": t.t(), "d": t[7]},
        "legacy_fp16.pth": make_net(6).half().state_dict(),
        "legacy_dtypes.pth": collections.OrderedDict(dtypes),
    }
    for name, obj in legacy.items():
        path = save(name, obj, _use_new_zipfile_serialization=False)
        assert not zipfile.is_zipfile(path)
        manifest[name] = manifest_entry(path)
    # Cut at several points: in each header pickle, the main pickle, the key list, a storage.
    data = open(os.path.join(out, "legacy_training.pth.tar"), "rb").read()
    cuts = [10, 20, 60, 300, len(data) // 2, len(data) - 100, len(data) - 1]
    for i, cut in enumerate(cuts):
        open(os.path.join(out, "legacy_cut%d.pth" % i), "wb").write(data[:cut])
    manifest["legacy_cuts"] = ["legacy_cut%d.pth" % i for i in range(len(cuts))]
    write_legacy(os.path.join(out, "legacy_handmade.pth"), 5, 5)
    manifest["legacy_handmade.pth"] = manifest_entry(os.path.join(out, "legacy_handmade.pth"))
    write_legacy(os.path.join(out, "legacy_huge_claim.pth"), 10**12, 5)  # 4 TB claimed
    write_legacy(os.path.join(out, "legacy_size_mismatch.pth"), 6, 5)

    # 7d. Wrappers and prefixes; metadata as numpy values.
    sd_a, sd_b = make_net(7).state_dict(), make_net(8).state_dict()
    wrappers = {
        "ema.pth": {"state_dict": sd_a, "state_dict_ema": sd_b, "epoch": np.int64(3),
                    "best_acc1": np.float64(71.25)},
        "model_ema.pth": {"model": sd_a, "model_ema": sd_b},
        "ema_none.pth": {"model": sd_a, "model_ema": None},
        "compiled.pth": {"model": {"_orig_mod." + k: v for k, v in sd_a.items()}},
        "ddp_compiled.pth": {"state_dict": {"module._orig_mod." + k: v for k, v in sd_a.items()}},
    }
    for name, obj in wrappers.items():
        manifest[name] = manifest_entry(save(name, obj))
    manifest["ema.pth:state_dict"] = manifest_entry(os.path.join(out, "ema.pth"), "state_dict")

    # 7d'. An Apex O2 checkpoint, built by hand as Apex leaves it (no apex needed): fp16 weights,
    # fp32 BatchNorm (keep_batchnorm_fp32), the guide's dict plus amp.state_dict() under "amp".
    apex_net = make_net(9).half()
    for bn in (apex_net.bn1, apex_net.layer1[1]):
        bn.float()
    path = save("apex_o2.pth.tar", {
        "epoch": 5, "arch": "tinynet",
        "state_dict": nn.DataParallel(apex_net).state_dict(),
        "best_acc1": torch.tensor(33.25),
        "optimizer": torch.optim.SGD(apex_net.parameters(), lr=0.1).state_dict(),
        "amp": {"loss_scaler0": {"loss_scale": 1024.0, "unskipped": 0}}})
    manifest["apex_o2.pth.tar"] = manifest_entry(path)
    assert manifest["apex_o2.pth.tar"]["amp"]
    # The fp32 model PyTorch gets by load_state_dict (which casts), and its logits.
    ref = TinyNet()
    ref.load_state_dict({k[len("module."):]: v for k, v in torch.load(path)["state_dict"].items()})
    torch.manual_seed(10)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        logits = ref.eval()(x)
    manifest["apex_o2.pth.tar"]["input"] = describe(x)
    manifest["apex_o2.pth.tar"]["logits"] = describe(logits)

    # 7d''. TorchScript archives (torch.jit.save), read as data: the module tree's tensors.
    scripted = torch.jit.script(make_net(11).eval())
    path = os.path.join(out, "torchscript.pt")
    scripted.save(path)
    manifest["torchscript.pt"] = torchscript_entry(path)
    traced = torch.jit.trace(make_net(12).eval(), torch.randn(1, 3, 8, 8))
    path = os.path.join(out, "traced.pt")
    traced.save(path)
    manifest["traced.pt"] = torchscript_entry(path)
    # Its data.pkl replaced by one that names os.system: refused like any checkpoint.
    replace_record(os.path.join(out, "torchscript.pt"), os.path.join(out, "torchscript_evil.pt"),
                   "/data.pkl", pickle.dumps(Evil("true"), protocol=2))

    # 7e. What training scripts store beside the weights, read as data.
    extras = {
        "args": argparse.Namespace(lr=0.1, arch="resnet18", gpus=[0, 1], resume=None),
        "np_float": np.float64(76.5), "np_f32": np.float32(0.25), "np_int": np.int64(-3),
        "np_bool": np.bool_(True),
        "np_array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "np_fortran": np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
        "np_empty": np.zeros((0, 2), dtype=np.float64),
        "device": torch.device("cuda", 0), "cpu": torch.device("cpu"),
        "set": {1, 2, 3}, "frozenset": frozenset({"a"}), "tuple": (1, "a", (2.5,)),
    }
    with open(os.path.join(out, "extras.pkl"), "wb") as f:
        pickle.dump(extras, f, protocol=2)
    with open(os.path.join(out, "extras.pkl"), "rb") as f:
        manifest["extras.pkl"] = {"value": encode(pickle.load(f))}
    path = save("extras.pth", dict(extras, state_dict=sd_a, epoch=np.int64(4)))
    manifest["extras.pth"] = manifest_entry(path)
    with open(os.path.join(out, "np_object.pkl"), "wb") as f:  # object arrays run code
        pickle.dump({"a": np.array([1, "x"], dtype=object)}, f, protocol=2)
    with open(os.path.join(out, "np_bigendian.pkl"), "wb") as f:
        pickle.dump({"a": np.arange(3, dtype=">f4")}, f, protocol=2)

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
