#!/usr/bin/python3
"""Reference data for the models tests: torchvision's classifiers with random weights and logits.

Two kinds of output under --out:

--registry: registry.json, what torchvision 0.14 declares of every classification model:
  {"archs": torchvision.models.list_models() of the classification module,
   "specs": {arch: {"pretrained_file_name", "num_params", "min_size", "preset": {resize_size,
            crop_size, interpolation, mean, std}}}}

--archs a,b,...: for each architecture
  <arch>.weights.bin   every state_dict tensor as raw little-endian bytes, concatenated
  <arch>.json          {"arch", "num_classes", "state_dict": [{name, dtype, shape, offset,
                        nbytes}, ...] in state_dict order, "inputs": [{shape, input, logits}]}
  <arch>.input<i>.bin / <arch>.logits<i>.bin   float32 input batches and torchvision's logits

The weights are not written with torch.save so that these tests do not depend on ptinfer's own
checkpoint reader. Every norm's affine parameters are drawn at random, and so is every parameter
torchvision initialises to a constant (zero biases and heads, ConvNeXt's layer scale, ViT's
class token): a fresh norm is an identity and a zero head gives zero logits, behind which a
wrong forward would hide. BatchNorm's running statistics are then those of the model's own
activations on random batches (calibrate), so that the logits depend on the input.
"""
import argparse
import json
import os
import sys

import torch
import torchvision
from torchvision.models import get_model_weights

NUM_CLASSES = 10  # keeps the heads (and the files) small
# A second, non-square input for a few archs: odd sizes go through every stride-2 rounding.
# Swin's pad feature maps to window multiples and drop the shift on a side no larger than the
# window: swin_t's 224x100 shifts along H only in stage 3, swin_v2_t's 100x90 pads every stage.
EXTRA_INPUT = {"resnet18": (2, 3, 96, 80), "resnet50": (2, 3, 96, 80),
               "resnext50_32x4d": (1, 3, 75, 61), "swin_t": (1, 3, 224, 100),
               "swin_v2_t": (1, 3, 100, 90)}
SMALLEST_SIDE = 32  # inputs are max(torchvision's min_size, this) on each side
DTYPE_NAMES = {torch.float32: "float32", torch.int64: "int64"}
AUX_HEADS = ("aux1", "aux2", "AuxLogits")  # training-only heads, see calibrate
NORMS = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.LayerNorm, torch.nn.GroupNorm)


def classification_models():
    return sorted(torchvision.models.list_models(module=torchvision.models))


def randomize(model, generator):
    """Non-trivial norms, running statistics and formerly constant parameters."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, NORMS) and getattr(m, "weight", None) is not None:
                shape = m.weight.shape
                # Scales near 1 keep activations of deep nets in a sane range.
                m.weight.copy_(0.5 + 0.5 * torch.rand(shape, generator=generator))
                m.bias.copy_(0.1 * torch.randn(shape, generator=generator))
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                n = m.num_features
                m.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(n, generator=generator))
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))
        for name, p in model.named_parameters():
            flat = p.reshape(-1)
            if flat.numel() > 0 and bool((flat == flat[0]).all()):
                if float(flat[0]) != 0.0:
                    p.copy_(0.5 + 0.5 * torch.rand(p.shape, generator=generator))
                else:
                    p.copy_(0.05 * torch.randn(p.shape, generator=generator))


def calibrate(model, shape, generator):
    """BatchNorm running statistics of the model's actual activations on random data (then a
    random num_batches_tracked): with statistics drawn at random instead, deep nets' logits
    barely depend on the input (relative change ~1e-7 for efficientnet_b0), so a wrong
    activation or input path would pass the 1e-5 tolerance.

    Auxiliary heads (googlenet's aux1/aux2, inception_v3's AuxLogits) run only in training and
    take no part in the eval logits; inception_v3's cannot even take the fixture's 75x75 input
    (its 5x5/3 average pool gets 3x3): they are detached while calibrating and keep their
    randomize() statistics."""
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
            model(torch.randn(8, *shape[1:], generator=generator))
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
    model = getattr(torchvision.models, arch)(num_classes=NUM_CLASSES)
    gen = torch.Generator().manual_seed(2000 + seed)
    randomize(model, gen)
    shapes = input_shapes(arch, model)
    calibrate(model, shapes[0], gen)
    model.eval()

    entries = []
    offset = 0
    with open(os.path.join(out, f"{arch}.weights.bin"), "wb") as f:
        for name, t in model.state_dict().items():
            if t.dtype not in DTYPE_NAMES:
                raise SystemExit(f"{arch}: unexpected dtype {t.dtype} for {name}")
            little = "<f4" if t.dtype == torch.float32 else "<i8"
            data = t.detach().contiguous().numpy().astype(little).tobytes()
            f.write(data)
            entries.append({"name": name, "dtype": DTYPE_NAMES[t.dtype], "shape": list(t.shape),
                            "offset": offset, "nbytes": len(data)})
            offset += len(data)

    inputs = []
    for i, shape in enumerate(shapes):
        x = torch.randn(*shape, generator=gen)
        with torch.no_grad():
            logits = model(x)
        write_raw(os.path.join(out, f"{arch}.input{i}.bin"), x)
        write_raw(os.path.join(out, f"{arch}.logits{i}.bin"), logits)
        inputs.append({"shape": list(shape), "input": f"{arch}.input{i}.bin",
                       "logits": f"{arch}.logits{i}.bin", "logits_shape": list(logits.shape)})

    with open(os.path.join(out, f"{arch}.json"), "w") as f:
        json.dump({"arch": arch, "num_classes": NUM_CLASSES, "state_dict": entries,
                   "weights": f"{arch}.weights.bin", "weights_nbytes": offset, "inputs": inputs}, f)
    print(f"{arch}: {len(entries)} tensors, {offset / 1e6:.0f} MB", flush=True)


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
