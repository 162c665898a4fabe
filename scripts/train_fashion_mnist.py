#!/usr/bin/python3
"""Trains torchvision's resnet18 on Fashion-MNIST's training images with Debian's PyTorch and
saves the checkpoint the way the guide's training loop does (epoch, arch, state_dict of a
DataParallel model, best_acc1), with half-precision weights to keep the committed file small.

The input is what `ptinfer validate --resize-size 28 --crop-size 28 --mean M M M --std S S S`
feeds the model: the 28x28 grayscale image converted to RGB, /255, normalized.

Usage: /usr/bin/python3 scripts/train_fashion_mnist.py --out demo/fashion_mnist_resnet18.pth.tar
"""
import argparse
import time

import numpy as np
import torch
import torchvision

import fashion_mnist as fm


def to_input(images):
    x = torch.from_numpy(images).float().div(255)
    x = (x - fm.MEAN) / fm.STD
    return x.unsqueeze(1).expand(-1, 3, -1, -1).contiguous()


def evaluate(model, x, y, batch=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += (model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum().item()
    return 100.0 * correct / len(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    train_images, train_labels = fm.load_split("train")
    test_images, test_labels = fm.load_split("t10k")
    x_train, y_train = to_input(train_images), torch.from_numpy(train_labels)
    x_test, y_test = to_input(test_images), torch.from_numpy(test_labels)

    model = torchvision.models.resnet18(num_classes=10)
    params_bias = [p for n, p in model.named_parameters() if n.endswith("bias")]
    params_rest = [p for n, p in model.named_parameters() if not n.endswith("bias")]
    optimizer = torch.optim.SGD([{"params": params_bias, "weight_decay": 0.0},
                                 {"params": params_rest, "weight_decay": 5e-4}],
                                lr=args.lr, momentum=0.9, nesterov=True)
    steps_per_epoch = (len(x_train) + args.batch_size - 1) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr,
                                                total_steps=args.epochs * steps_per_epoch)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    best_acc1 = 0.0
    best_state = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x_train))
        start = time.time()
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch_size:(step + 1) * args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            flip = torch.rand(len(idx)) < 0.5
            xb[flip] = xb[flip].flip(3)
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            sched.step()
            if step % 100 == 0:
                print("epoch %d step %d/%d loss %.4f (%.1fs)" %
                      (epoch, step, steps_per_epoch, loss.item(), time.time() - start), flush=True)
        acc = evaluate(model, x_test, y_test)
        print("epoch %d test Acc@1 %.3f (%.1fs)" % (epoch, acc, time.time() - start), flush=True)
        if acc > best_acc1:
            best_acc1 = acc
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    # As the guide's loop saves a DataParallel model: keys carry the 'module.' prefix.
    state = {"module." + k: (v.half() if v.is_floating_point() else v) for k, v in best_state.items()}
    torch.save({"epoch": args.epochs, "arch": "resnet18", "state_dict": state,
                "best_acc1": torch.tensor(best_acc1), "classes": fm.CLASSES,
                "mean": [fm.MEAN] * 3, "std": [fm.STD] * 3},
               args.out)
    print("saved %s best Acc@1 %.3f (fp32 weights)" % (args.out, best_acc1))


if __name__ == "__main__":
    main()
