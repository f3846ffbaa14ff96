"""Peak memory of pseudo-labelling an unlabelled pool of 10k vs 100k image files.

    python benchmarks/bench_pseudo_label_memory.py [--sizes 10000,100000]

Generates 32x32 PNG pools into a temporary folder (`DIR/train/<class>` with
a few labelled images, `DIR/unlabeled/` with the pool), then, each in a
fresh process, measures the peak resident memory (ru_maxrss) of:

- kzoo: `load_data(DIR)` + `predict_probabilities(model, data.unlabeled)`,
  the path `recipes/noisy_student.py` takes (the pool is streamed from its
  files; only `[N, classes]` probabilities are kept);
- peer: the same files decoded into one in-memory array, then
  `model.predict` on it (what a script that "loads the dataset" does).

Prints each peak, its growth over the process's memory before the pool is
touched, and the ratios 100k / 10k. Target (issue 5): kzoo's 100k peak <=
1.10 x its 10k peak.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = ("a", "b")


def write_pool(root, n, size=32):
    """`root/train/<class>/` (4 images each) and `root/unlabeled/` (n images)."""
    sys.path.insert(0, ROOT)
    from kzoo.testing.images import class_pattern, write_image

    rng = np.random.default_rng(0)
    for label, cls in enumerate(CLASSES):
        folder = os.path.join(root, "train", cls)
        os.makedirs(folder, exist_ok=True)
        for i in range(4):
            write_image(os.path.join(folder, f"{i}.png"),
                        class_pattern(label, size, rng, channels=1))
    for start in range(0, n, 1000):  # sub-folders of 1000 files
        folder = os.path.join(root, "unlabeled", f"{start // 1000:04d}")
        os.makedirs(folder, exist_ok=True)
        for i in range(start, min(n, start + 1000)):
            write_image(os.path.join(folder, f"{i}.png"),
                        class_pattern(i % len(CLASSES), size, rng, channels=1))
    return root


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(mode, root):
    """Runs in a fresh process; prints one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    from kzoo.data import load_data
    from kzoo.models import create_model
    from kzoo.semi_supervised import predict_probabilities

    keras.utils.set_random_seed(0)
    model = create_model("lenet5", num_classes=len(CLASSES), input_shape=(32, 32, 1))
    model.predict(np.zeros((2, 32, 32, 1), "float32"), verbose=0)  # warm up
    before = peak_mb()
    start = time.perf_counter()
    data = load_data(root, image_size=(32, 32), channels=1, val_fraction=0)
    if mode == "kzoo":
        probs = predict_probabilities(model, data.unlabeled, batch_size=256)
    else:
        images = np.stack([x for x, _ in data.unlabeled.as_numpy_iterator()])
        probs = tf.nn.softmax(model.predict(images, batch_size=256, verbose=0)).numpy()
    print(json.dumps({"n": int(len(probs)), "before_mb": before, "peak_mb": peak_mb(),
                      "seconds": time.perf_counter() - start}))


def measure(mode, root):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", mode, root],
        capture_output=True, text=True, env=env, check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--child", nargs=2, metavar=("MODE", "ROOT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(*args.child)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            start = time.perf_counter()
            root = write_pool(os.path.join(tmp, f"pool{n}"), n)
            print(f"wrote {n} PNGs in {time.perf_counter() - start:.0f} s", flush=True)
            for mode in ("kzoo", "peer"):
                rows[(mode, n)] = r = measure(mode, root)
                print(f"{mode:<5} n={r['n']:>7}: peak {r['peak_mb']:7.0f} MB "
                      f"(+{r['peak_mb'] - r['before_mb']:6.0f} MB over the "
                      f"{r['before_mb']:.0f} MB before the pool), "
                      f"{r['seconds']:.0f} s", flush=True)
    small, large = sizes[0], sizes[-1]
    for mode in ("kzoo", "peer"):
        a, b = rows[(mode, small)], rows[(mode, large)]
        growth = (b["peak_mb"] - b["before_mb"]) / max(a["peak_mb"] - a["before_mb"], 1)
        print(f"{mode}: peak {large} / peak {small} = "
              f"{b['peak_mb'] / a['peak_mb']:.3f}; growth {large} / growth "
              f"{small} = {growth:.2f}")


if __name__ == "__main__":
    sys.exit(main())
