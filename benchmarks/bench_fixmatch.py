"""What a FixMatch step costs beyond the images it trains on.

    python benchmarks/bench_fixmatch.py [--rounds 5] [--steps 240]

On the digits demo budget (5 labels per class, the 1,245 other training
images unlabelled; 32x32x1), with `kzoo fixmatch`'s defaults (batch 16,
mu = 7, weak `crop`, strong `crop,randaugment(n=2,m=10),cutout`, EMA),
after a warm-up round each, rounds alternate two contenders that run the
same number of steps and the median of the per-round ratios is printed:

- fixmatch: `FixMatchModel` fit on `fixmatch_batches` (each pool batch
  decoded once, two augmented views made from it, pseudo-labels,
  mask, weight average), as `kzoo fixmatch` trains: LeNet-5 has no
  batch normalization, so the weak view runs in its own pass before the
  gradient tape (`weak_pass="separate"`);
- joint: the same with the paper's one training-mode pass over the
  labelled, weak and strong images (`weak_pass="joint"`, what a network
  with batch normalization gets), the weak view's part of the backward
  pass computed and discarded;
- plain: the same LeNet-5 `fit` on cached, un-augmented batches of the
  same size, 16 x (1 + 2 x 7) = 240 images a step: the floor for a step
  that trains on that many images.

The ratios: what the augmentation of 224 images, the loss terms and the
weight average add to a step (fixmatch / plain), and what the separate
weak pass saves (fixmatch / joint). Both compile with up to 32 steps per call
and no XLA (the command's defaults).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from kzoo.data import batched, fixmatch_batches, load_data, one_hot_labels  # noqa: E402
from kzoo.models import create_model  # noqa: E402
from kzoo.run import configure, inputs  # noqa: E402
from kzoo.semi_supervised import FixMatchModel  # noqa: E402


def contenders(config, data, steps):
    """`{name: callable running `steps` steps}`."""
    size = data.image_shape[:2]

    def network():
        keras.utils.set_random_seed(0)
        return create_model("lenet5", num_classes=data.num_classes,
                            input_shape=data.image_shape, dropout=config.dropout)

    def fixmatch_model(weak_pass):
        model = FixMatchModel(network(), ema_decay=config.ema_decay,
                              weak_pass=weak_pass)
        model.compile(keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                      jit_compile=False, steps_per_execution=min(32, steps))
        return model

    def fixmatch_stream():
        return fixmatch_batches(
            data.train, data.unlabeled, config.batch_size, config.ratio,
            weak=inputs.make_policy(config.augment, size, None, 1),
            strong=inputs.make_policy(config.strong, size, None, 2), seed=0,
            labeled_map=one_hot_labels(data.num_classes),
            hidden_labels=data.unlabeled_labels)

    per_step = config.batch_size * (1 + 2 * config.ratio)
    everything = data.train.concatenate(data.unlabeled.map(
        lambda x, y: (x, tf.zeros_like(y))))
    plain_stream = batched(everything, per_step, training=True, seed=0,
                           map_fn=one_hot_labels(data.num_classes), repeat=True)
    plain = network()
    plain.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=False,
                  steps_per_execution=min(32, steps))

    def fit(model, train):
        def run():
            start = time.perf_counter()
            model.fit(train, epochs=1, steps_per_epoch=steps, verbose=0)
            return time.perf_counter() - start
        return run

    return {"fixmatch": fit(fixmatch_model("separate"), fixmatch_stream()),
            "joint": fit(fixmatch_model("joint"), fixmatch_stream()),
            "plain": fit(plain, plain_stream)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=256)
    args = p.parse_args()
    config = configure("fixmatch")
    data = load_data("digits", image_size=(32, 32), labels_per_class=5,
                     val_fraction=config.val_fraction, seed=0)
    runs = contenders(config, data, args.steps)
    for run in runs.values():  # warm-up: tracing, caches
        run()
    seconds = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, run in runs.items():
            seconds[name].append(run())
    per_step = config.batch_size * (1 + 2 * config.ratio)
    for name, values in seconds.items():
        median = statistics.median(values)
        print(f"{name:<9} {1000 * median / args.steps:6.2f} ms/step  "
              f"{per_step * args.steps / median:8.0f} images/s  "
              f"(min {min(values):.2f} s, max {max(values):.2f} s per round)")
    for peer, what in (("plain", "same images a step"),
                       ("joint", "the paper's one pass")):
        ratios = [f / p for f, p in zip(seconds["fixmatch"], seconds[peer])]
        print(f"fixmatch / {peer} ({what}): median "
              f"{statistics.median(ratios):.2f}x over {args.rounds} rounds "
              f"(min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()
