"""`load_data` on a large image folder vs a plain `tf.data` list-and-decode pass.

    python benchmarks/bench_load_data.py [--files 30000] [--rounds 3] [--size 32]

Generates `--files` PNGs (`--size` px, RGB, 10 class folders) plus a few
broken files into a temporary folder, once. Each round then times, one
after another (never at once):

- kzoo: `load_data(folder)`: the scan (stat, header, decodability check of
  every file) and the splits, nothing iterated;
- kzoo + pass: the same, then one pass over every split's decoded images
  (what the first epoch of a run adds);
- peer: `tf.data` listing the files and decoding every one
  (`read_file` + `decode_image`, parallel, `ignore_errors`), counted.

Prints the median of the per-round ratios (kzoo / peer, kzoo + pass / peer)
and checks that both keep the same number of files.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402

from kzoo.data import load_data  # noqa: E402

BROKEN = 5  # truncated files, skipped by both sides


def make_folder(root, files, size):
    rng = np.random.default_rng(0)
    for i in range(files):
        folder = os.path.join(root, f"class{i % 10}")
        os.makedirs(folder, exist_ok=True)
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"{i:06d}.png"))
    for i in range(BROKEN):
        path = os.path.join(root, "class0", f"broken{i}.png")
        with open(os.path.join(root, "class0", f"{10 * i:06d}.png"), "rb") as f:
            good = f.read()
        with open(path, "wb") as f:
            f.write(good[: len(good) // 2])


def peer(root):
    """Files that decode, counted by a plain list-and-decode pass."""
    files = tf.data.Dataset.list_files(os.path.join(root, "*", "*"), shuffle=False)
    ds = files.map(lambda p: tf.shape(tf.io.decode_image(
        tf.io.read_file(p), expand_animations=False))[0],
        num_parallel_calls=tf.data.AUTOTUNE).ignore_errors()
    return int(ds.reduce(0, lambda n, _: n + 1))


def kzoo(root, size):
    data = load_data(root, image_size=(size, size), val_fraction=0.1)
    return data, sum(data.counts[k] for k in ("train", "val", "test", "unlabeled"))


def kzoo_pass(root, size):
    data, kept = kzoo(root, size)
    for split in (data.train, data.val, data.test, data.unlabeled):
        if split is not None:
            split.batch(1024).reduce(0, lambda n, _: n + 1)
    return data, kept


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=30000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--size", type=int, default=32)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as root:
        make_folder(root, args.files, args.size)
        times = {"kzoo": [], "kzoo+pass": [], "peer": []}
        for _ in range(args.rounds):
            seconds, (_, kept) = timed(kzoo, root, args.size)
            times["kzoo"].append(seconds)
            seconds, _ = timed(kzoo_pass, root, args.size)
            times["kzoo+pass"].append(seconds)
            seconds, decoded = timed(peer, root)
            times["peer"].append(seconds)
        assert kept == decoded == args.files, (kept, decoded)
        print(f"{args.files} PNGs of {args.size}x{args.size} + {BROKEN} broken, "
              f"{os.cpu_count()} CPUs; median seconds over {args.rounds} rounds")
        for name, values in times.items():
            print(f"  {name:<10} {statistics.median(values):7.2f} s "
                  f"(min {min(values):.2f}, max {max(values):.2f})")
        for name in ("kzoo", "kzoo+pass"):
            ratio = statistics.median(a / b for a, b in zip(times[name],
                                                            times["peer"]))
            print(f"  ratio {name} / peer  {ratio:.2f}x")
        per_file = {k: statistics.median(v) / args.files * 1e6
                    for k, v in times.items()}
        print(f"  per file: kzoo {per_file['kzoo']:.0f} us, "
              f"peer {per_file['peer']:.0f} us")


if __name__ == "__main__":
    main()
