"""LeNet-5 training throughput: kzoo's `kzoo train` path vs a plain PyTorch loop.

    python benchmarks/bench_lenet_throughput.py [--epochs 3] [--rounds 5]

Same data (the recipe's digits split, 32x32x1, decoded once), same batch
size, same model (Rescaling, Conv6-5x5, MaxPool, Conv16-5x5, MaxPool, FC120,
FC84 with dropout 0.5, FC10), same loss (label-smoothed 0.1 cross-entropy)
and optimizer (Adam 1e-3), training only, after one warm-up epoch each.
Rounds alternate between the contenders so machine noise hits all of them;
the medians of the per-round ratios are printed.

Contenders:
- kzoo: `kzoo train`'s own data pipeline, model, `compile_model` and step
  plan (XLA off, up to 32 steps per graph call by default);
- keras-plain: the same with `jit_compile=False, steps_per_execution=1`
  (what `model.fit` does with Keras's defaults on a CPU);
- torch: an eager PyTorch loop over pre-made tensors.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from common import RecipeContender, train_config  # noqa: E402
from kzoo.data import load_data  # noqa: E402


class TorchContender:
    def __init__(self, x, y, batch_size, num_classes, dropout):
        torch.manual_seed(0)
        self.net = nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(120, 84), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(84, num_classes),
        )
        self.opt = torch.optim.Adam(self.net.parameters(), 1e-3)
        self.loss = nn.CrossEntropyLoss(label_smoothing=0.1)
        self.x = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
        self.y = torch.tensor(y, dtype=torch.long)
        self.batch_size = batch_size

    def run(self, epochs):
        self.net.train()
        n = len(self.y)
        for _ in range(epochs):
            order = torch.randperm(n)
            for start in range(0, n, self.batch_size):
                idx = order[start:start + self.batch_size]
                self.opt.zero_grad()
                logits = self.net(self.x[idx] / 255.0)
                self.loss(logits, self.y[idx]).backward()
                self.opt.step()


def throughput(contender, epochs, n):
    """Images trained per second: every contender trains `epochs` full
    passes of `n` images (kzoo's plan adds no step, see
    `kzoo.training.plan`)."""
    start = time.perf_counter()
    contender.run(epochs)
    return n * epochs / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3, help="epochs per timed round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batch-sizes", default="16,32,64")
    p.add_argument("--dropout", type=float, default=0.5,
                   help="dropout after fc1/fc2 in both models (recipe default 0.5)")
    args = p.parse_args()
    defaults = train_config()
    data = load_data(defaults.data, image_size=(32, 32),
                     val_fraction=defaults.val_fraction, seed=defaults.seed)
    x = np.stack([img.numpy() for img, _ in data.train])
    y = np.array([int(label) for _, label in data.train])
    n = len(y)
    print(f"LeNet-5 training throughput, {n} digits images 32x32x1, "
          f"dropout {args.dropout}, {os.cpu_count()} CPUs, "
          f"torch threads {torch.get_num_threads()}")
    for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
        flags = ["--batch-size", str(batch_size), "--dropout", str(args.dropout)]
        contenders = {
            "kzoo": RecipeContender(data, flags, epochs=args.epochs),
            "keras-plain": RecipeContender(
                data, flags + ["--no-jit-compile", "--steps-per-execution", "1"],
                epochs=args.epochs),
            "torch": TorchContender(x, y, batch_size, data.num_classes,
                                    args.dropout),
        }
        for c in contenders.values():  # warm-up: tracing, compilation
            c.run(args.epochs)
        rates = {name: [] for name in contenders}
        for _ in range(args.rounds):
            for name, c in contenders.items():
                rates[name].append(throughput(c, args.epochs, n))
        ratio = lambda a, b: statistics.median(  # noqa: E731
            ra / rb for ra, rb in zip(rates[a], rates[b]))
        print(f"\nbatch {batch_size}: median images/s over {args.rounds} rounds "
              f"of {args.epochs} epochs")
        for name, values in rates.items():
            print(f"  {name:<12} {statistics.median(values):>8.0f}  "
                  f"(min {min(values):.0f}, max {max(values):.0f})")
        print(f"  ratio kzoo / torch        {ratio('kzoo', 'torch'):.2f}x")
        print(f"  ratio keras-plain / torch {ratio('keras-plain', 'torch'):.2f}x")
        print(f"  ratio kzoo / keras-plain  {ratio('kzoo', 'keras-plain'):.2f}x")


if __name__ == "__main__":
    main()
