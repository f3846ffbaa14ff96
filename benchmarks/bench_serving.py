"""The SavedModel's serving signatures vs the Keras model's `predict_on_batch`.

    python benchmarks/bench_serving.py [--rounds 5] [--batches 1,32,256]

LeNet-5 (32x32x1, 10 classes) exported with `export_saved_model` and
loaded with `tf.saved_model.load`, as TF Serving runs it. Per batch size:

- peer: `model.predict_on_batch` of the Keras model on the decoded float
  batch (what a Keras user calls), XLA off (`jit_compile=False`, as kzoo
  compiles models by default);
- `serving_default` on the same images as PNG bytes (decode, channel
  conversion, resize and the model, in the graph);
- `serving_tensors` on the float batch.

Each round times the three one after another (never at once); the median
of per-round ratios (signature / peer images per second) is printed, with
the largest logit difference between each signature and the peer.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from kzoo.data.images import encode_png  # noqa: E402
from kzoo.export import export_saved_model  # noqa: E402
from kzoo.models import create_model  # noqa: E402


def images_per_second(predict, x, min_seconds=0.5):
    predict(x)  # warm-up
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        predict(x)
        calls += 1
    return calls * len(x) / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batches", default="1,32,256")
    args = p.parse_args()
    model = create_model("lenet5", num_classes=10, input_shape=(32, 32, 1))
    model.compile(jit_compile=False)
    print(f"{'batch':>5} {'keras img/s':>11} {'default/keras':>13} "
          f"{'tensors/keras':>13} {'max |logit diff|':>16}")
    with tempfile.TemporaryDirectory() as folder:
        loaded = tf.saved_model.load(export_saved_model(
            model, folder, [str(i) for i in range(10)], include_keras_model=False))
        default = loaded.signatures["serving_default"]
        tensors = loaded.signatures["serving_tensors"]
        for batch in map(int, args.batches.split(",")):
            x = np.round(np.random.default_rng(0).uniform(
                0, 255, (batch, 32, 32, 1))).astype("float32")
            png = tf.stack([encode_png(image) for image in x])
            run = {
                "keras": (lambda _: model.predict_on_batch(x), None),
                "default": (lambda b: default(images=b)["logits"], png),
                "tensors": (lambda b: tensors(images=b)["logits"], tf.constant(x)),
            }
            want = np.asarray(model.predict_on_batch(x))
            diff = max(float(np.max(np.abs(np.asarray(fn(arg)) - want)))
                       for key, (fn, arg) in run.items() if key != "keras")
            rates = {k: [] for k in run}
            for _ in range(args.rounds):
                for key, (fn, arg) in run.items():
                    rates[key].append(images_per_second(fn, arg if arg is not None
                                                        else x))
            ratio = {k: statistics.median(
                a / b for a, b in zip(rates[k], rates["keras"])) for k in run}
            print(f"{batch:>5} {statistics.median(rates['keras']):>11.0f} "
                  f"{ratio['default']:>12.2f}x {ratio['tensors']:>12.2f}x "
                  f"{diff:>16.2e}", flush=True)


if __name__ == "__main__":
    main()
