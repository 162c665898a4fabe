#!/usr/bin/python3
"""Writes an ImageNet-like ImageFolder for benchmarks: N JPEGs (quality 90, 4:2:0) of ImageNet's
typical sizes in 10 classes, with textured content so that decoding costs what photos cost.

Usage: /usr/bin/python3 bench/make_imagenet_like.py --out DIR/val [--images 500] [--seed 0]
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageFilter

SIZES = [(500, 375), (375, 500), (500, 333), (500, 400), (640, 480), (333, 500), (500, 500),
         (800, 600), (400, 300), (1024, 768)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    existing = sum(len(f) for _, _, f in os.walk(args.out)) if os.path.isdir(args.out) else 0
    if existing == args.images:
        print("%s: %d images already there" % (args.out, existing))
        return
    for i in range(args.images):
        w, h = SIZES[i % len(SIZES)]
        noise = rng.integers(0, 256, size=(h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
        img = Image.fromarray(noise, "RGB").resize((w, h), Image.BICUBIC)
        img = img.filter(ImageFilter.DETAIL)
        d = os.path.join(args.out, "class_%02d" % (i % 10))
        os.makedirs(d, exist_ok=True)
        img.save(os.path.join(d, "img_%05d.JPEG" % i), quality=90)
    print("%s: wrote %d images" % (args.out, args.images))


if __name__ == "__main__":
    main()
