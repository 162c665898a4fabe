#!/usr/bin/python3
"""Turns Fashion-MNIST's 10,000 test images (Debian's dataset-fashion-mnist) into an ImageFolder:
OUT/<class>/<index>.png, 8-bit grayscale PNGs written by PIL. Does nothing when OUT already holds
all 10,000 images.

Usage: /usr/bin/python3 scripts/make_fashion_mnist_folder.py --out demo/data/fashion-mnist/val
"""
import argparse
import os

from PIL import Image

import fashion_mnist as fm


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    args = p.parse_args()
    images, labels = fm.load_split("t10k")
    paths = [os.path.join(args.out, fm.CLASSES[label], "%05d.png" % i)
             for i, label in enumerate(labels)]
    if all(os.path.isfile(path) for path in paths):
        print("%s: %d images already there" % (args.out, len(paths)))
        return
    for name in fm.CLASSES:
        os.makedirs(os.path.join(args.out, name), exist_ok=True)
    for image, path in zip(images, paths):
        Image.fromarray(image, mode="L").save(path)
    print("%s: wrote %d images in %d classes" % (args.out, len(paths), len(fm.CLASSES)))


if __name__ == "__main__":
    main()
