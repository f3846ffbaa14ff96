"""Inference of the LiteRT and ONNX exports vs the Keras model they came from.

    python benchmarks/bench_portable.py [--rounds 5] [--batches 1,32,256]

For LeNet-5 (32x32x1) and VGG-11-BN at width 0.25 (32x32x3), both with 10
classes: images/s of the Keras model's `predict_on_batch` (the peer), the
`.tflite` file in the `ai-edge-litert` interpreter (its signature runner,
resized to the batch) and the `.onnx` file in ONNX Runtime, on the same
float batch. Each round times the three one after another, never at once;
the median of per-round ratios (format / Keras) is printed, with the
largest logit difference from Keras. Needs the `litert` and `onnx` extras.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

from kzoo.export import portable  # noqa: E402
from kzoo.models import create_model  # noqa: E402

MODELS = {"lenet5": dict(input_shape=(32, 32, 1)),
          "vgg11_bn": dict(input_shape=(32, 32, 3), width=0.25)}


def images_per_second(predict, x, min_seconds=0.5):
    predict(x)  # warm-up (and a resize for the interpreter)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        predict(x)
        calls += 1
    return calls * len(x) / (time.perf_counter() - start)


def contenders(model, folder):
    litert = Interpreter(portable.export_litert(model, f"{folder}/m.tflite"))
    runner = litert.get_signature_runner()
    session = ort.InferenceSession(portable.export_onnx(model, f"{folder}/m.onnx"),
                                   providers=["CPUExecutionProvider"])
    return {
        "keras": lambda x: model.predict_on_batch(x),
        "litert": lambda x: runner(images=x)["logits"],
        "onnx": lambda x: session.run(["logits"], {"images": x})[0],
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--batches", default="1,32,256")
    args = p.parse_args()
    print(f"{'model':<9} {'batch':>5} {'keras img/s':>11} {'litert/keras':>12} "
          f"{'onnx/keras':>10} {'max |logit diff|':>16}")
    for name, kwargs in MODELS.items():
        model = create_model(name, num_classes=10, **kwargs)
        with tempfile.TemporaryDirectory() as folder:
            run = contenders(model, folder)
            for batch in map(int, args.batches.split(",")):
                x = np.random.default_rng(0).uniform(
                    0, 255, (batch, *model.input_shape[1:])).astype("float32")
                want = np.asarray(run["keras"](x))
                diff = max(float(np.max(np.abs(np.asarray(run[k](x)) - want)))
                           for k in ("litert", "onnx"))
                rates = {k: [] for k in run}
                for _ in range(args.rounds):
                    for key, predict in run.items():
                        rates[key].append(images_per_second(predict, x))
                ratio = {k: statistics.median(
                    a / b for a, b in zip(rates[k], rates["keras"])) for k in run}
                keras_rate = statistics.median(rates["keras"])
                print(f"{name:<9} {batch:>5} {keras_rate:>11.0f} "
                      f"{ratio['litert']:>11.2f}x {ratio['onnx']:>9.2f}x "
                      f"{diff:>16.2e}")


if __name__ == "__main__":
    main()
