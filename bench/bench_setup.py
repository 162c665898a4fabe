"""What every validate benchmark starts from: a generated ImageNet-like ImageFolder, a checkpoint
in the guide's format with random weights, and the ptinfer binary to run."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def prepare(work, images, arch, num_classes=1000):
    """Returns (data folder, checkpoint path) under `work`, made once and reused. The folder is
    per image count, so runs with different counts never share a half-overwritten folder."""
    data = os.path.join(work, "imagenet_like_%d" % images)
    subprocess.run([sys.executable, os.path.join(HERE, "make_imagenet_like.py"), "--out",
                    os.path.join(data, "val"), "--images", str(images)], check=True)
    ckpt = os.path.join(work, "%s_%d.pth.tar" % (arch, num_classes))
    if not os.path.exists(ckpt):
        sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
        import common
        common.make_guide_checkpoint(ckpt, arch, num_classes)
    return data, ckpt


def ptinfer_binary():
    """$PTINFER, else build/ptinfer."""
    return os.environ.get("PTINFER", os.path.join(ROOT, "build", "ptinfer"))
