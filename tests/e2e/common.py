"""Helpers for the end-to-end tests: run the ptinfer binary, make ImageFolders and checkpoints in
the guide's format with Debian's PyTorch. Every test makes its own data in a temporary folder."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision
from PIL import Image

SOURCE_DIR = os.environ.get("PTINFER_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
BINARY_DIR = os.environ.get("PTINFER_BINARY_DIR", os.path.join(SOURCE_DIR, "build"))
PTINFER = os.path.join(BINARY_DIR, "ptinfer")
SCRIPTS = os.path.join(SOURCE_DIR, "scripts")


def scratch_dir(owner, prefix):
    """A new temporary folder named prefix*, removed with everything in it once `owner` is done,
    passed or failed: `owner` is a TestCase class (from setUpClass: removed after the class's
    tests) or a TestCase instance (removed after that test)."""
    path = tempfile.mkdtemp(prefix=prefix)
    if isinstance(owner, type):
        owner.addClassCleanup(shutil.rmtree, path, True)
    else:
        owner.addCleanup(shutil.rmtree, path, True)
    return path


def run_ptinfer(args, env=None, check=True, timeout=600):
    """Runs ptinfer with args and the environment updated by env (a value of None removes that
    variable); returns the CompletedProcess (text stdout/stderr)."""
    full_env = dict(os.environ)
    full_env.setdefault("PTINFER_LOG_DIR", os.path.join(tempfile.gettempdir(), "ptinfer-test-logs"))
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    proc = subprocess.run([PTINFER] + list(args), capture_output=True, text=True, env=full_env,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError("ptinfer %s failed (%d):\n%s\n%s" %
                             (" ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


def run_reference(args, timeout=900):
    """Runs scripts/reference_validate.py (the guide's Python loop)."""
    proc = subprocess.run([sys.executable, os.path.join(SCRIPTS, "reference_validate.py")] +
                          list(args), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError("reference failed:\n%s\n%s" % (proc.stdout, proc.stderr))
    return proc


def random_image(rng, width, height, mode):
    """A noisy gradient image, so that resizing and decoding errors show."""
    y, x = np.mgrid[0:height, 0:width]
    base = (x * 255 // max(1, width - 1) + y * 128 // max(1, height - 1)) % 256
    rgb = np.stack([base, 255 - base, (base * 3) % 256], axis=-1)
    noise = rng.integers(-40, 40, size=rgb.shape)
    rgb = np.clip(rgb + noise, 0, 255).astype(np.uint8)
    img = Image.fromarray(rgb, "RGB")
    return img.convert(mode) if mode != "RGB" else img


def make_image_folder(root, classes, per_class, seed=0):
    """root/<class>/img_<i>.<ext> with JPEG/PNG/BMP images of varied sizes and modes."""
    rng = np.random.default_rng(seed)
    kinds = [("jpg", "RGB"), ("png", "RGB"), ("JPEG", "L"), ("png", "RGBA"), ("bmp", "RGB"),
             ("png", "P"), ("jpeg", "RGB")]
    sizes = [(500, 375), (375, 500), (300, 300), (64, 48), (1, 1), (800, 200), (257, 255)]
    n = 0
    for c in classes:
        os.makedirs(os.path.join(root, c), exist_ok=True)
        for i in range(per_class):
            ext, mode = kinds[n % len(kinds)]
            w, h = sizes[(n * 3 + i) % len(sizes)]
            img = random_image(rng, w, h, mode)
            img.save(os.path.join(root, c, "img_%03d.%s" % (i, ext)))
            n += 1
    return root


def randomize_batch_norm(model):
    """Gives every BatchNorm2d of `model` non-trivial statistics and affine parameters (from
    torch's current random state), so that a wrong BatchNorm shows in the logits."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def make_guide_checkpoint(path, arch, num_classes, seed=0, half=False, prefix="module."):
    """A checkpoint as the guide's training loop saves it: epoch, arch, state_dict (with the
    DataParallel prefix), best_acc1 (a tensor) and the optimizer state. BatchNorm statistics are
    randomised so that they matter."""
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(num_classes=num_classes)
    # One small training step, so that the file holds a real optimizer state (momentum buffers).
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    # (ViTs take only the size their positional embedding was made for.)
    side = getattr(model, "image_size", 64)
    model(torch.randn(2 if side > 64 else 4, 3, side, side)).mean().backward()
    optimizer.step()
    randomize_batch_norm(model)
    state = {prefix + k: (v.half() if half and v.is_floating_point() else v)
             for k, v in model.state_dict().items()}
    torch.save({"epoch": 3, "arch": arch, "state_dict": state,
                "best_acc1": torch.tensor(12.5), "optimizer": optimizer.state_dict()}, path)
    return path


def make_calibrated_checkpoint(path, arch, num_classes, images, seed=0):
    """A checkpoint in the guide's format (as make_guide_checkpoint) whose logits depend on the
    image: BatchNorm statistics measured on `images` (a list of files, guide-preprocessed) and
    the head scaled to logits that vary by about 2 between images. Randomly initialised deep networks (shufflenet_v2) otherwise give nearly
    the same logits for every input, so that preprocessing differences would not show."""
    import torchvision.transforms as T
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(num_classes=num_classes)
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    x = torch.stack([tf(Image.open(p).convert("RGB")) for p in images])
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None  # a plain average over the calibration batch
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(x)
        # The head scaled so that each logit varies by about 2 from image to image, and
        # centred so that no class wins every image.
        model.eval()
        head = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        scale = 2.0 / model(x).std(0).mean().item()
        head.weight.mul_(scale)
        head.bias.mul_(scale)
        head.bias.sub_(model(x).mean(0))
    state = {"module." + k: v for k, v in model.state_dict().items()}
    torch.save({"epoch": 3, "arch": arch, "state_dict": state, "best_acc1": torch.tensor(12.5)},
               path)
    return path


def read_csv(path):
    import csv
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
