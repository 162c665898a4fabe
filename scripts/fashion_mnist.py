"""Shared helpers for the Fashion-MNIST demo: reading Debian's idx files and the class names.

Used by train_fashion_mnist.py (training the committed demo checkpoint) and
make_fashion_mnist_folder.py (turning the 10,000 test images into an ImageFolder).
"""
import gzip
import os
import struct

import numpy as np

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")

# Class names in label order, from the dataset's README; folder names sort in label order.
CLASSES = ["0-tshirt_top", "1-trouser", "2-pullover", "3-dress", "4-coat",
           "5-sandal", "6-shirt", "7-sneaker", "8-bag", "9-ankle_boot"]

# The per-pixel mean and std of the training images, as commonly quoted for Fashion-MNIST.
MEAN = 0.2860
STD = 0.3530


def read_idx(name):
    """Returns the numpy array stored in DATA_DIR/name (gzip-compressed idx format)."""
    path = os.path.join(DATA_DIR, name)
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError("%s: expected %d values, found %d" % (path, int(np.prod(dims)), arr.size))
    return arr.reshape(dims)


def load_split(split):
    """Returns (images uint8 [N,28,28], labels int64 [N]) for split 'train' or 't10k'."""
    images = read_idx("%s-images-idx3-ubyte.gz" % split)
    labels = read_idx("%s-labels-idx1-ubyte.gz" % split).astype(np.int64)
    return images, labels
