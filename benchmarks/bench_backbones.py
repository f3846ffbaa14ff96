"""Forward-pass images/s of each registered backbone on this CPU, and the
head-only transfer run on cached features against the same run with the
backbone computed every step.

    python benchmarks/bench_backbones.py [--sizes 128 224] [--images 10000]
        [--epochs 5] [--source mobilenet_v3_small] [--input-size 128]

Part 1, throughput: each model (include_top=False, global average pooling;
VGG-16 flattened, LeNet-5 at 32 px for scale) in inference mode on batches
of 32 random RGB pixels, one compiled `tf.function`, after two warm-up
batches; images/s over at least `--seconds` per model and size. Models run
one after another in this process, never at once.

Part 2, the frozen-feature path: `kzoo transfer --mode head --source NAME
--weights imagenet --augment none` on a generated folder of `--images`
RGB digit images (`make_digit_folder.py`), every label kept: first with
the features cached (kzoo's default), then with the cache forced off
(`FEATURE_CACHE_BYTES = 0`: the backbone runs every step, as with
--augment), same seed; wall seconds of each whole `run.run` and their
ratio, and both test accuracies. No network: the ImageNet file is a
keras.applications network with random weights written into a temporary
Keras cache, its hash patched into the table (the timing does not depend
on the weights' values).
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

MODELS = ("lenet5", "mobilenet_v3_small", "mobilenet_v3_large",
          "efficientnet_v2_b0", "resnet50_v2", "convnext_tiny", "vgg16")


def throughput(name, size, seconds, batch=32):
    import numpy as np
    import tensorflow as tf

    from kzoo.models import create_model, get_model_entry

    entry = get_model_entry(name)
    options = {"include_top": False}
    if entry.accepts("pooling"):
        options["pooling"] = entry.options.get("pooling") or "flatten"
    if name == "lenet5":
        size, channels = 32, 1
    else:
        channels = 3
    model = create_model(name, input_shape=(size, size, channels), **options)
    x = tf.constant(np.random.default_rng(0).uniform(
        0, 255, (batch, size, size, channels)).astype("float32"))
    forward = tf.function(lambda t: model(t, training=False))
    for _ in range(2):
        forward(x).numpy()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or count < 3 * batch:
        forward(x).numpy()
        count += batch
    elapsed = time.perf_counter() - start
    return size, count / elapsed, model.count_params()


def seeded_cache(name, home):
    """A fake ImageNet file of `name` in a Keras cache at `home`, its hash
    patched into the table; returns the cache folder."""
    import keras

    from kzoo.models import pretrained
    from kzoo.models.applications import APPLICATIONS
    from tests.models.helpers import write_applications_file

    network = getattr(keras.applications, APPLICATIONS[name].constructor)(
        include_top=False, weights=None, input_shape=(224, 224, 3))
    file = pretrained.PRETRAINED[(name, False)]
    path = os.path.join(home, "models", file.fname)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_applications_file(network, path)
    pretrained.PRETRAINED[(name, False)] = pretrained.WeightsFile(
        file.fname, file.origin, pretrained.hash_file(path))
    os.environ["KERAS_HOME"] = home


def frozen_path(args, root):
    from benchmarks.make_digit_folder import make
    from kzoo import run
    from kzoo.run import transfer

    data = os.path.join(root, "digits")
    make(data, n_train=args.images, n_test=1000)
    seeded_cache(args.source, os.path.join(root, "keras_home"))
    options = dict(source=args.source, weights="imagenet", data=data,
                   input_size=args.input_size, channels=3, epochs=args.epochs,
                   mode="head", export=["keras"], val_fraction=0.1)
    times, accuracies = {}, {}
    for label, limit in (("cached", transfer.FEATURE_CACHE_BYTES),
                         ("every step", 0)):
        transfer.FEATURE_CACHE_BYTES = limit
        start = time.perf_counter()
        result = run.run("transfer", out=os.path.join(root, label), **options)
        times[label] = time.perf_counter() - start
        accuracies[label] = result.test_accuracy
    return times, accuracies


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 224])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--images", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--source", default="mobilenet_v3_small")
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-frozen", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        print(f"{'model':<20}{'px':>5}{'parameters':>14}{'images/s':>11}")
        for name in args.models:
            for size in args.sizes if name != "lenet5" else args.sizes[:1]:
                px, rate, params = throughput(name, size, args.seconds)
                print(f"{name:<20}{px:>5}{params:>14,}{rate:>11.1f}", flush=True)
    if args.skip_frozen:
        return
    with tempfile.TemporaryDirectory() as root:
        times, accuracies = frozen_path(args, root)
    print(f"\nkzoo transfer --mode head --source {args.source} --weights "
          f"imagenet, {args.images:,} images at {args.input_size} px, "
          f"{args.epochs} epochs:")
    for label in times:
        print(f"  features {label:<11} {times[label]:7.1f} s  test accuracy "
              f"{accuracies[label]:.4f} (random stand-in weights: for timing)")
    print(f"  every step / cached: {times['every step'] / times['cached']:.2f}x")


if __name__ == "__main__":
    main()
