#!/usr/bin/python3
"""The guide's validation loop in Python (torchvision ImageFolder + DataLoader + eval/no_grad),
the reference ptinfer is checked and measured against. Writes the same --predictions CSV and
--json summary as `ptinfer validate`, counting every image in accuracy.

Usage: /usr/bin/python3 scripts/reference_validate.py --data DIR -a ARCH --resume FILE
         [-b N] [-j N] [--resize-size 256] [--crop-size 224] [--interpolation bilinear|bicubic]
         [--mean ...] [--std ...] [--weights-transforms]
         [--predictions FILE] [--json FILE]

--weights-transforms preprocesses with torchvision's own
get_model_weights(ARCH).DEFAULT.transforms() (ImageClassification) instead of the guide's
Resize + CenterCrop + ToTensor + Normalize; a --resize-size, --crop-size, --interpolation, --mean
or --std given as well replaces that field of it.
"""
import argparse
import csv
import json
import os
import resource
import time

import torch
import torchvision
import torchvision.transforms as transforms
import torchvision.datasets as datasets


def seconds_since_process_start():
    """Seconds since this process started, from /proc (so `import torch` counts), as ptinfer
    measures its own."""
    with open("/proc/self/stat") as f:
        stat = f.read()
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    starttime_ticks = float(stat[stat.rindex(")") + 2:].split()[19])  # field 22
    return max(0.0, uptime - starttime_ticks / os.sysconf("SC_CLK_TCK"))


def load_state_dict(path):
    checkpoint = torch.load(path, map_location="cpu")
    state = checkpoint
    if isinstance(checkpoint, dict):
        for key in ("state_dict", "model"):
            if key in checkpoint and isinstance(checkpoint[key], dict):
                state = checkpoint[key]
                break
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return checkpoint, state


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("-a", "--arch", default="resnet50")
    p.add_argument("--resume", required=True)
    p.add_argument("-b", "--batch-size", type=int, default=32)
    p.add_argument("-j", "--workers", type=int, default=0)
    # Defaults (the guide's) are filled in below, so that --weights-transforms sees which
    # fields were given.
    p.add_argument("--resize-size", type=int)
    p.add_argument("--crop-size", type=int)
    p.add_argument("--interpolation", choices=["bilinear", "bicubic"],
                   help="Resize's InterpolationMode (on PIL images: PIL's filter)")
    p.add_argument("--mean", type=float, nargs=3)
    p.add_argument("--std", type=float, nargs=3)
    p.add_argument("--weights-transforms", action="store_true",
                   help="preprocess with get_model_weights(ARCH).DEFAULT.transforms()")
    p.add_argument("--image-size", type=int,
                   help="the builder's image_size (a ViT trained at another size than 224)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--predictions")
    p.add_argument("--json")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    _, state = load_state_dict(args.resume)
    # The head is the state dict's last weight (fc, classifier.N, heads.head, head) in every
    # torchvision classifier: its first dimension is the number of classes.
    num_classes = [v for k, v in state.items() if k.endswith("weight")][-1].shape[0]
    builder_args = {"num_classes": num_classes}
    if args.image_size is not None:
        builder_args["image_size"] = args.image_size
    model = torchvision.models.__dict__[args.arch](**builder_args)
    model.load_state_dict(state)
    model.eval()

    valdir = os.path.join(args.data, "val")
    if not os.path.isdir(valdir):
        valdir = args.data
    if args.weights_transforms:
        transform = torchvision.models.get_model_weights(args.arch).DEFAULT.transforms()
        if args.resize_size is not None:
            transform.resize_size = [args.resize_size]
        if args.crop_size is not None:
            transform.crop_size = [args.crop_size]
        if args.interpolation is not None:
            transform.interpolation = transforms.InterpolationMode(args.interpolation)
        if args.mean is not None:
            transform.mean = list(args.mean)
        if args.std is not None:
            transform.std = list(args.std)
    else:
        guide = {"resize_size": 256, "crop_size": 224, "interpolation": "bilinear",
                 "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
        for key, value in guide.items():
            if getattr(args, key) is None:
                setattr(args, key, value)
        mode = transforms.InterpolationMode(args.interpolation)
        steps = ([transforms.Resize(args.resize_size, interpolation=mode)]
                 if args.resize_size > 0 else [])
        transform = transforms.Compose(steps + [
            transforms.CenterCrop(args.crop_size),
            transforms.ToTensor(),
            transforms.Normalize(mean=args.mean, std=args.std),
        ])
    print("=> preprocessing:", transform)
    dataset = datasets.ImageFolder(valdir, transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=False,
                                         num_workers=args.workers)
    rows = []
    correct1 = correct5 = total = 0
    first_batch = None
    loop_start = time.time()
    with torch.no_grad():
        for i, (images, target) in enumerate(loader):
            output = model(images)
            if first_batch is None:
                first_batch = seconds_since_process_start()
            k = min(5, output.shape[1])
            _, pred = output.topk(k, 1, True, True)
            probs = torch.softmax(output, 1).gather(1, pred)
            correct = pred.eq(target.view(-1, 1))
            correct1 += correct[:, :1].sum().item()
            correct5 += correct[:, :5].sum().item()
            for j in range(images.shape[0]):
                path, label = dataset.samples[total + j]
                rows.append([path, label] + pred[j].tolist() + probs[j].tolist())
            total += images.shape[0]
    seconds = time.time() - loop_start
    acc1, acc5 = 100.0 * correct1 / total, 100.0 * correct5 / total
    print(" * Acc@1 {:.3f} Acc@5 {:.3f}".format(acc1, acc5))
    print("=> {} images, {:.1f} img/s".format(total, total / seconds))
    if args.predictions:
        with open(args.predictions, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "target"] + ["top%d" % i for i in range(1, 6)] +
                       ["score%d" % i for i in range(1, 6)])
            for r in rows:
                k = (len(r) - 2) // 2
                w.writerow(r[:2] + r[2:2 + k] + [""] * (5 - k) + ["%.9g" % s for s in r[2 + k:]]
                           + [""] * (5 - k))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": {"images": total, "correct1": correct1, "correct5": correct5,
                                   "acc1": acc1, "acc5": acc5, "seconds": seconds,
                                   "images_per_second": total / seconds,
                                   "seconds_to_first_prediction": first_batch,
                                   "peak_rss_mib":
                                   resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}},
                      f, indent=2)


if __name__ == "__main__":
    main()
