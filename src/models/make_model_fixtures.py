#!/usr/bin/python3
"""Reference data for the models tests: torchvision's ResNets with random weights and logits.

For every architecture of the registry this writes, under --out:
  <arch>.weights.bin   every state_dict tensor as raw little-endian bytes, concatenated
  <arch>.json          {"arch", "num_classes", "state_dict": [{name, dtype, shape, offset,
                        nbytes}, ...] in state_dict order, "inputs": [{shape, input, logits}]}
  <arch>.input<i>.bin / <arch>.logits<i>.bin   float32 input batches and torchvision's logits
and registry.json with the architecture list and each one's default-weights file name.

The weights are not written with torch.save so that these tests do not depend on ptinfer's own
checkpoint reader. BatchNorm's affine parameters and running statistics are randomised so that
the eval-mode BatchNorm arithmetic is actually exercised (fresh BNs are identities).
"""
import argparse
import json
import os
import sys

import torch
import torchvision
from torchvision.models import get_model_weights

# The registry's architectures; num_classes=10 keeps the head (and the files) small.
ARCHS = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "resnext101_64x4d",
    "wide_resnet50_2",
    "wide_resnet101_2",
]
NUM_CLASSES = 10
# A second, non-square input for a few archs: odd sizes go through every stride-2 rounding.
EXTRA_INPUT = {"resnet18": (2, 3, 96, 80), "resnet50": (2, 3, 96, 80), "resnext50_32x4d": (1, 3, 75, 61)}
DTYPE_NAMES = {torch.float32: "float32", torch.int64: "int64"}


def randomize_batchnorm(model, generator):
    """Gives every BatchNorm non-trivial affine parameters and running statistics."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                n = m.num_features
                # Scales near 1 keep activations of deep nets in a sane range.
                m.weight.copy_(0.5 + 0.5 * torch.rand(n, generator=generator))
                m.bias.copy_(0.1 * torch.randn(n, generator=generator))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=generator))
                m.running_var.copy_(0.5 + torch.rand(n, generator=generator))
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=generator)))


def write_raw(path, tensor):
    with open(path, "wb") as f:
        f.write(tensor.contiguous().numpy().astype("<f4" if tensor.dtype == torch.float32 else "<i8").tobytes())


def make_arch(out, k, arch):
    torch.manual_seed(1000 + k)
    model = getattr(torchvision.models, arch)(num_classes=NUM_CLASSES)
    gen = torch.Generator().manual_seed(2000 + k)
    randomize_batchnorm(model, gen)
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

    shapes = [(2, 3, 64, 64)] + ([EXTRA_INPUT[arch]] if arch in EXTRA_INPUT else [])
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if sys.byteorder != "little":
        raise SystemExit("fixtures assume a little-endian host")

    # Default weights' file names as the torch hub cache stores them (the URL's basename).
    registry = {"archs": ARCHS, "pretrained_file_name": {
        a: os.path.basename(get_model_weights(a).DEFAULT.url) for a in ARCHS}}
    with open(os.path.join(args.out, "registry.json"), "w") as f:
        json.dump(registry, f, indent=1)

    for k, arch in enumerate(ARCHS):
        # Regenerating ~2 GB on every ctest run is the slow part: skip archs already written by
        # this same script (the JSON is written last, so its presence means the arch is complete).
        stamp = os.path.join(args.out, f"{arch}.json")
        if os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(__file__):
            print(f"{arch}: up to date", flush=True)
            continue
        make_arch(args.out, k, arch)


if __name__ == "__main__":
    main()
