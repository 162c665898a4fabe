#!/usr/bin/python3
"""Reference data for the models tests: torchvision's classifiers with random weights and logits.

Two kinds of output under --out:

--registry: registry.json, what torchvision 0.14 declares of every classification model:
  {"archs": torchvision.models.list_models() of the classification module,
   "specs": {arch: {"pretrained_file_name", "num_params", "min_size", "preset": {resize_size,
            crop_size, interpolation, mean, std}}}}

--archs a,b,...: for each architecture
  <arch>.buffers.bin   every state_dict buffer as raw little-endian bytes, concatenated
  <arch>.json          {"arch", "num_classes", "state_dict": [{name, dtype, shape[, offset,
                        nbytes]}, ...] in state_dict order, "buffers", "buffers_nbytes",
                        "inputs": [{shape, input, logits, logits_shape[, multiply_adds]}]}
                        (multiply_adds, of the first input: MultiplyAdds of the forward)
  <arch>.input<i>.bin / <arch>.logits<i>.bin   float32 input batches and torchvision's logits

Parameters are not written at all (the zoo's would take 21 GB): each one is a function of its
state-dict position and shape (generated_parameter), computed with exact integer arithmetic and
one rounding, which the C++ tests reproduce bit for bit (models/model_test_fixtures.h); the
models are built with torch.nn.init's functions skipped, since every parameter is set next. Only an
entry with an offset is read from <arch>.buffers.bin: the BatchNorm statistics and the buffers a
model computes itself (Swin's relative position index). The files are not written with
torch.save so that these tests do not depend on ptinfer's own checkpoint reader.

The generated parameters are not torchvision's initial values: every norm's scale and every bias
is non-trivial (a fresh norm is an identity and a zero head gives zero logits, behind which a
wrong forward would hide), the other tensors are uniform with Kaiming's variance 2/fan_in.
BatchNorm's running statistics are random, then for all but the ResNets those of the model's own
activations on random batches (calibrate), so that the logits depend on the input.
"""
import argparse
import contextlib
import json
import math
import os
import sys

import numpy as np

import torch
import torchvision
from torchvision.models import get_model_weights
from torch.utils._python_dispatch import TorchDispatchMode

NUM_CLASSES = 10  # keeps the heads (and the files) small
# A second, non-square input for a few archs: odd sizes go through every stride-2 rounding.
# Swin's pad feature maps to window multiples and drop the shift on a side no larger than the
# window: swin_t's 224x100 shifts along H only in stage 3, swin_v2_t's 100x90 pads every stage.
EXTRA_INPUT = {"resnet18": (2, 3, 96, 80), "resnet50": (2, 3, 96, 80),
               "resnext50_32x4d": (1, 3, 75, 61), "swin_t": (1, 3, 224, 100),
               "swin_v2_t": (1, 3, 100, 90)}
MIN_INPUT_DEPENDENCE = 1e-3  # relative logit change between two inputs (see make_arch)
SMALLEST_SIDE = 32  # inputs are max(torchvision's min_size, this) on each side
CALIBRATION_BATCH = 64  # images per calibration batch (two batches): see calibrate_batch_norms
DTYPE_NAMES = {torch.float32: "float32", torch.int64: "int64"}
AUX_HEADS = ("aux1", "aux2", "AuxLogits")  # training-only heads, see calibrate


def classification_models():
    return sorted(torchvision.models.list_models(module=torchvision.models))


# generated_parameter's hash: 32-bit arithmetic carried in int64 (no product reaches 2**63).
MASK32 = 0xFFFFFFFF
# Values repeat with this prime period: hashing is ~100 ns a value here, and the zoo has 5.2e9
# parameters; a prime keeps rows of any width from repeating one another.
PERIOD = 1000003


def hashed_uniform(ordinal, numel):
    """numel values k / 32768, k an integer in [-32768, 32767]: value i is the hash of
    (ordinal, i mod PERIOD)."""
    x = torch.arange(min(numel, PERIOD), dtype=torch.int64)
    x = (x + ordinal * 1000003) & MASK32
    x = (x * 1103515245 + 12345) & MASK32
    x = x ^ (x >> 16)
    x = (x * 73244475) & MASK32
    x = x ^ (x >> 16)
    table = ((x & 0xFFFF) - 32768).to(torch.float32) / 32768.0
    if numel <= PERIOD:
        return table
    out = torch.empty(numel, dtype=torch.float32)
    for start in range(0, numel, PERIOD):
        n = min(PERIOD, numel - start)
        out[start:start + n] = table[:n]
    return out


class MultiplyAdds(TorchDispatchMode):
    """Counts the multiply-adds of the convolutions and matrix products the aten ops under it
    run (torchvision's GFLOPS convention: a multiply-add counts once), in `total`."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        aten = torch.ops.aten
        packet = func.overloadpacket
        if packet is aten.convolution:  # output elements x (input channels / groups) x kernel
            self.total += out.numel() * (args[1].numel() // args[1].shape[0])
        elif packet in (aten.mm, aten.bmm):
            self.total += out.numel() * args[0].shape[-1]
        elif packet in (aten.addmm, aten.baddbmm):
            self.total += out.numel() * args[1].shape[-1]
        return out


@contextlib.contextmanager
def skipped_initialisation():
    """torch.nn.init's functions as no-ops while a model is built: set_parameters overwrites
    every parameter next, and drawing the giants' weights takes seconds each."""
    names = [n for n in dir(torch.nn.init) if n.endswith("_") and not n.startswith("_")]
    saved = {n: getattr(torch.nn.init, n) for n in names}
    try:
        for n in names:
            setattr(torch.nn.init, n, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for n, f in saved.items():
            setattr(torch.nn.init, n, f)


def generated_parameter(ordinal, name, shape):
    """The value of the parameter `name` at state-dict position `ordinal`: a weight of two or more
    dimensions is uniform with variance 2 / fan_in (fan_in = numel / shape[0]); any other tensor
    named *weight (a norm's scale) lies in [0.5, 1); the rest (biases, layer scales) in
    [-1/16, 1/16). The scale is rounded to float32 once; every other step is exact."""
    numel = math.prod(shape)
    u = hashed_uniform(ordinal, numel).reshape(shape)
    fan_in = numel // shape[0] if len(shape) >= 2 and shape[0] > 0 else 1
    if len(shape) >= 2 and fan_in > 1:
        return u * float(np.float32(math.sqrt(6.0 / fan_in)))
    if name.endswith("weight"):
        return u * 0.25 + 0.75
    return u * 0.0625


def set_parameters(model):
    """Every parameter to generated_parameter of its state-dict position."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for ordinal, name in enumerate(model.state_dict().keys()):
            if name in params:
                p = params[name]
                p.copy_(generated_parameter(ordinal, name, list(p.shape)))


def randomize_batch_norms(model, generator):
    """Random BatchNorm running statistics (calibrate replaces them for most archs)."""
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
            m.running_var.copy_(0.5 + torch.rand(n, generator=generator))
            m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))


def fixture_state(out, index):
    """The state dict a fixture index describes: generated parameters, stored buffers."""
    raw = np.memmap(os.path.join(out, index["buffers"]), dtype=np.uint8, mode="r")
    state = {}
    for ordinal, e in enumerate(index["state_dict"]):
        if "offset" in e:
            dtype = {"float32": "<f4", "int64": "<i8"}[e["dtype"]]
            chunk = raw[e["offset"]:e["offset"] + e["nbytes"]]
            state[e["name"]] = torch.from_numpy(np.frombuffer(chunk, dtype=dtype).copy()).reshape(
                e["shape"])
        else:
            state[e["name"]] = generated_parameter(ordinal, e["name"], e["shape"])
    return state


def calibrate(model, shape, generator):
    """BatchNorm running statistics of the model's actual activations on random data (then a
    random num_batches_tracked): with statistics drawn at random instead, deep nets' logits
    barely depend on the input (relative change ~1e-7 for efficientnet_b0), so a wrong
    activation or input path would pass the 1e-5 tolerance. Two batches of CALIBRATION_BATCH
    images: with 8, a deep layer's channel saw few distinct values, its variance came out tiny
    and the BatchNorm amplified any rounding difference (efficientnet_b5's logits moved by 0.8
    relative between two fp32 kernels with the same math), which fp32 parity at 1e-4 cannot
    be checked on.

    Auxiliary heads (googlenet's aux1/aux2, inception_v3's AuxLogits) run only in training and
    take no part in the eval logits; inception_v3's cannot even take the fixture's 75x75 input
    (its 5x5/3 average pool gets 3x3): they are detached while calibrating and keep their
    random statistics."""
    aux_heads = {name: getattr(model, name) for name in AUX_HEADS
                 if getattr(model, name, None) is not None}
    for name in aux_heads:
        setattr(model, name, None)  # what torchvision's builders do to drop them
    try:
        calibrate_batch_norms(model, shape, generator)
    finally:
        for name, head in aux_heads.items():
            setattr(model, name, head)  # back in its place: state_dict order is unchanged


def calibrate_batch_norms(model, shape, generator):
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    # The ResNets' logits already depend on the input with random statistics (relative change
    # 0.095 for resnet50), and the fast path's bf16 tolerances (fast_path_test) were measured on
    # those weights: they keep them.
    if not bns or isinstance(model, torchvision.models.ResNet):
        return
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(CALIBRATION_BATCH, *shape[1:], generator=generator))
    for m, momentum in zip(bns, momenta):
        m.momentum = momentum
        m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))


def write_raw(path, tensor):
    with open(path, "wb") as f:
        f.write(tensor.contiguous().numpy().astype("<f4").tobytes())


def input_shapes(arch, model):
    if hasattr(model, "image_size"):  # ViT: its positional embedding fixes the size (224 here)
        h = w = model.image_size
    else:
        meta = get_model_weights(arch).DEFAULT.meta
        h, w = (max(s, SMALLEST_SIDE) for s in meta["min_size"])
    return [(2, 3, h, w)] + ([EXTRA_INPUT[arch]] if arch in EXTRA_INPUT else [])


def make_arch(out, arch):
    seed = sum(ord(c) for c in arch)
    torch.manual_seed(1000 + seed)
    with skipped_initialisation():
        model = getattr(torchvision.models, arch)(num_classes=NUM_CLASSES)
    gen = torch.Generator().manual_seed(2000 + seed)
    set_parameters(model)
    with torch.no_grad():
        randomize_batch_norms(model, gen)
    shapes = input_shapes(arch, model)
    calibrate(model, shapes[0], gen)
    model.eval()

    entries = []
    offset = 0
    params = dict(model.named_parameters())
    with open(os.path.join(out, f"{arch}.buffers.bin"), "wb") as f:
        for name, t in model.state_dict().items():
            if t.dtype not in DTYPE_NAMES:
                raise SystemExit(f"{arch}: unexpected dtype {t.dtype} for {name}")
            entry = {"name": name, "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape)}
            if name not in params:
                little = "<f4" if t.dtype == torch.float32 else "<i8"
                data = t.detach().contiguous().numpy().astype(little).tobytes()
                f.write(data)
                entry.update(offset=offset, nbytes=len(data))
                offset += len(data)
            entries.append(entry)

    inputs = []
    inputs_logits = []
    for i, shape in enumerate(shapes):
        x = torch.randn(*shape, generator=gen)
        with torch.no_grad():
            logits = model(x)
        entry = {"shape": list(shape), "input": f"{arch}.input{i}.bin",
                 "logits": f"{arch}.logits{i}.bin", "logits_shape": list(logits.shape)}
        if i == 0:
            # Counted with autograd on: under no_grad nn.MultiheadAttention (ViT) runs one fused
            # op, whose projections and products no dispatch mode sees.
            with MultiplyAdds() as count:
                model(x)
            entry["multiply_adds"] = count.total
        write_raw(os.path.join(out, f"{arch}.input{i}.bin"), x)
        write_raw(os.path.join(out, f"{arch}.logits{i}.bin"), logits)
        inputs_logits.append(logits)
        inputs.append(entry)

    # The two rows of the first batch are different random images: logits that barely tell them
    # apart would let a wrong forward pass within the tests' 1e-5 tolerance.
    first = inputs_logits[0]
    dependence = float((first[0] - first[1]).norm() / first.norm())
    if dependence < MIN_INPUT_DEPENDENCE:
        raise SystemExit(f"{arch}: logits barely depend on the input ({dependence:.2e})")
    with open(os.path.join(out, f"{arch}.json"), "w") as f:
        json.dump({"arch": arch, "num_classes": NUM_CLASSES, "state_dict": entries,
                   "buffers": f"{arch}.buffers.bin", "buffers_nbytes": offset, "inputs": inputs}, f)
    print(f"{arch}: {len(entries)} tensors, {offset / 1e6:.1f} MB of buffers, input dependence {dependence:.3f}",
          flush=True)


def preset(weights):
    t = weights.transforms()
    return {"resize_size": list(t.resize_size)[0], "crop_size": list(t.crop_size)[0],
            "interpolation": t.interpolation.value, "mean": list(t.mean), "std": list(t.std)}


def write_registry(out):
    archs = classification_models()
    specs = {}
    for a in archs:
        w = get_model_weights(a).DEFAULT
        specs[a] = {"pretrained_file_name": os.path.basename(w.url),
                    "num_params": w.meta["num_params"], "min_size": list(w.meta["min_size"]),
                    "preset": preset(w)}
    with open(os.path.join(out, "registry.json"), "w") as f:
        json.dump({"archs": archs, "specs": specs}, f, indent=1)
    print(f"registry: {len(archs)} architectures", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--registry", action="store_true", help="write registry.json")
    parser.add_argument("--archs", default="", help="comma-separated architectures")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if sys.byteorder != "little":
        raise SystemExit("fixtures assume a little-endian host")
    if args.registry:
        write_registry(args.out)
    known = set(classification_models())
    for arch in filter(None, args.archs.split(",")):
        if arch not in known:
            raise SystemExit(f"{arch} is not a torchvision classification model")
        # Regenerating gigabytes on every ctest run is the slow part: skip archs already written
        # by this same script (the JSON is written last, so its presence means the arch is
        # complete).
        stamp = os.path.join(args.out, f"{arch}.json")
        if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(__file__):
            print(f"{arch}: up to date", flush=True)
            continue
        make_arch(args.out, arch)


if __name__ == "__main__":
    main()
