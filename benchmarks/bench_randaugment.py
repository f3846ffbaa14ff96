"""RandAugment images/s inside tf.data: kzoo vs Keras core vs keras-cv.

    python benchmarks/bench_randaugment.py [--sizes 32,224] [--rounds 3]

Same random uint8-valued float images, batch 32, N=2 ops per image,
magnitude M=9 (kzoo) = factor 0.3 (Keras core, keras-cv: their 0-1 scale of
the same 0-30 range), each layer mapped over batches with
`num_parallel_calls=AUTOTUNE` and prefetch, one warm-up batch each.
Rounds alternate the contenders; medians of per-round ratios are printed.
keras-cv is measured when importable (`pip install -e ".[kerascv]"`).
What each computes per op slot: kzoo one of 14 ops per image; Keras core all
of its ops for the whole batch, then a per-image selection; keras-cv one of
its 10 ops per image.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kzoo.augment import RandAugment  # noqa: E402

BATCH = 32


def contenders():
    found = {
        "kzoo": lambda: RandAugment(num_ops=2, magnitude=9, seed=0),
        "keras": lambda: keras.layers.RandAugment(
            value_range=(0, 255), num_ops=2, factor=0.3, seed=0
        ),
    }
    try:
        import keras_cv

        found["keras_cv"] = lambda: keras_cv.layers.RandAugment(
            value_range=(0, 255), augmentations_per_image=2, magnitude=0.3, seed=0
        )
    except Exception as err:  # optional peer
        print(f"keras-cv not measured: {type(err).__name__}: {err}")
    return found


def images_per_second(layer, images, num_images):
    ds = tf.data.Dataset.from_tensor_slices(images).repeat().batch(BATCH)
    ds = ds.map(layer, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
    it = iter(ds)
    next(it)  # trace + warm-up
    start, seen = time.perf_counter(), 0
    while seen < num_images:
        seen += int(next(it).shape[0])
    return seen / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="32,224")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    found = contenders()
    rng = np.random.default_rng(0)
    for size in [int(s) for s in args.sizes.split(",")]:
        images = rng.integers(0, 256, (4 * BATCH, size, size, 3)).astype("float32")
        budget = {
            "kzoo": 20 * BATCH,
            "keras_cv": 20 * BATCH,
            "keras": (20 if size <= 64 else 2) * BATCH,
        }
        rates = {name: [] for name in found}
        for _ in range(args.rounds):
            for name, make in found.items():
                rates[name].append(images_per_second(make(), images, budget[name]))
        print(
            f"\n{size}x{size}, batch {BATCH}, {args.rounds} rounds (images/s per round)"
        )
        for name, values in rates.items():
            print(f"  {name:9s} " + "  ".join(f"{v:8.1f}" for v in values))
        for peer in [n for n in found if n != "kzoo"]:
            ratio = statistics.median(k / p for k, p in zip(rates["kzoo"], rates[peer]))
            print(f"  kzoo / {peer}: {ratio:.2f}x (median of per-round ratios)")


if __name__ == "__main__":
    main()
