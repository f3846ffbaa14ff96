"""Does augmentation starve `fit`? LeNet-5 epoch time with vs without it.

    python benchmarks/bench_augment_fit.py [--epochs 3] [--rounds 5] [--augment default]

Both contenders are `kzoo train`'s own path on the digits training
split (1,293 images, 32x32x1, batch 16, XLA, 32 steps per call): the same
model, optimizer and cached decoded tensors; one maps the `--augment` policy
over each batch in tf.data, the other only one-hots the labels. After a
warm-up epoch each, rounds alternate and the median of per-round epoch-time
ratios (augmented / plain) is printed. Target: <= 1.2x.
"""

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from common import RecipeContender, train_config  # noqa: E402

from kzoo.data import load_data  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--augment", default="default")
    args = p.parse_args()
    defaults = train_config()
    data = load_data(
        "digits",
        image_size=(32, 32),
        val_fraction=defaults.val_fraction,
        seed=defaults.seed,
    )
    augmented = RecipeContender(data, ["--augment", args.augment],
                                epochs=args.epochs)
    plain = RecipeContender(data, ["--augment", "none"], epochs=args.epochs)
    augmented.run()  # trace, compile, fill the cache
    plain.run()
    times = {"augmented": [], "plain": []}
    for _ in range(args.rounds):
        times["augmented"].append(augmented.run(args.epochs))
        times["plain"].append(plain.run(args.epochs))
    print(
        f"policy '{args.augment}', {data.counts['train']} images, batch "
        f"{defaults.batch_size}; seconds per epoch per round:"
    )
    for name, values in times.items():
        print(f"  {name:9s} " + "  ".join(f"{v:6.3f}" for v in values))
    ratio = statistics.median(a / b for a, b in zip(times["augmented"], times["plain"]))
    print(f"augmented / plain epoch time: {ratio:.2f}x (median of per-round ratios)")


if __name__ == "__main__":
    main()
