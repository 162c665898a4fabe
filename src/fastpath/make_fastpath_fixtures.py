#!/usr/bin/python3
"""Reference logits for the fast-path tests: torchvision's ResNets on small inputs.

Loads make_model_fixtures.py's weights (--models: <arch>.json, <arch>.buffers.bin and the
generated parameters, with randomised BatchNorm statistics) into torchvision's models, and
writes under --out, for each input size S in SIZES:
  input_<S>.bin            float32 [BATCH, 3, S, S], random normal with a fixed seed
  <arch>.logits_<S>.bin    torchvision's eval-mode float32 logits [BATCH, num_classes]
and index.json {"batch", "sizes", "archs", "num_classes"}. The tests run batch sizes 1, 3 and
BATCH on the first rows of each input.
"""
import argparse
import json
import os

import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
import make_model_fixtures  # noqa: E402  (the models fixtures' format: fixture_state)

SIZES = [40, 56]  # small (CI time), with odd spatial sizes in the last layers (5, 3 and 7)
BATCH = 32
SEED = 4242


def load_model(models_dir, arch):
    with open(os.path.join(models_dir, f"{arch}.json")) as f:
        index = json.load(f)
    model = getattr(torchvision.models, arch)(num_classes=index["num_classes"])
    model.load_state_dict(make_model_fixtures.fixture_state(models_dir, index), strict=True)
    return model.eval(), index["num_classes"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", required=True, help="make_model_fixtures.py's output folder")
    parser.add_argument("--out", required=True)
    parser.add_argument("--archs", required=True, help="comma-separated architectures")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    archs = args.archs.split(",")

    gen = torch.Generator().manual_seed(SEED)
    inputs = {s: torch.randn(BATCH, 3, s, s, generator=gen) for s in SIZES}
    for s, x in inputs.items():
        x.numpy().astype("<f4").tofile(os.path.join(args.out, f"input_{s}.bin"))
    torch.set_num_threads(os.cpu_count() or 1)
    num_classes = None
    for arch in archs:
        stamp = os.path.join(args.out, f"{arch}.logits_{SIZES[-1]}.bin")
        weights = os.path.join(args.models, f"{arch}.json")
        if (os.path.exists(stamp) and os.path.getmtime(stamp) >= os.path.getmtime(__file__)
                and os.path.getmtime(stamp) >= os.path.getmtime(weights)):
            print(f"{arch}: up to date", flush=True)
            continue
        model, num_classes = load_model(args.models, arch)
        for s, x in inputs.items():  # the stamp (last size) is written last
            with torch.no_grad():
                logits = model(x)
            logits.numpy().astype("<f4").tofile(os.path.join(args.out, f"{arch}.logits_{s}.bin"))
        print(f"{arch}: done", flush=True)
    with open(os.path.join(args.models, f"{archs[0]}.json")) as f:
        num_classes = json.load(f)["num_classes"]
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump({"batch": BATCH, "sizes": SIZES, "archs": archs, "num_classes": num_classes}, f)


if __name__ == "__main__":
    main()
