"""Overhead of the training wrappers: `Distiller` and `LwFModel` fit vs plain fit.

    python benchmarks/bench_wrappers.py [--rounds 5] [--epochs 2]

On the digits training split (32x32x1, batch 16, up to 32 steps per call,
XLA off: `kzoo train`'s defaults), after a warm-up round each, rounds alternate
the contenders and the median of per-round ratios is printed:
- Distiller (teacher run every step) / (plain student fit + teacher.predict
  over the same images): what distillation costs beyond the two passes it
  needs. Teacher VGG-11-BN width 0.25, student LeNet-5 width 0.5 (the
  `kzoo distill` demo pair).
- Distiller on precomputed teacher logits / plain student fit.
- LwFModel joint training / plain fit of the same network's new head (the
  old head's extra forward pass and distillation term are the overhead).
Target: <= 1.15x.
"""

import argparse
import dataclasses
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
from common import RecipeContender, train_config  # noqa: E402

from kzoo.data import batched, load_data  # noqa: E402
from kzoo.models import create_model  # noqa: E402
from kzoo.training import Distiller, LwFModel, precompute_teacher_logits  # noqa: E402


def models(shape, num_classes):
    keras.utils.set_random_seed(0)
    teacher = create_model(
        "vgg11_bn", num_classes=num_classes, input_shape=shape, width=0.25
    )
    student = create_model(
        "lenet5", num_classes=num_classes, input_shape=shape, width=0.5
    )
    return teacher, student


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    flags = train_config()
    data = load_data(
        "digits", image_size=(32, 32), val_fraction=flags.val_fraction, seed=flags.seed
    )
    shape, n = data.image_shape, data.num_classes

    teacher, student = models(shape, n)
    teacher.compile(jit_compile=flags.jit_compile,
                    steps_per_execution=flags.steps_per_execution)
    images = batched(data.train, flags.batch_size).map(lambda x, y: x)
    contenders = {
        "distiller": RecipeContender(data, model=Distiller(teacher, student),
                                     epochs=args.epochs),
        "student+teacher.predict": RecipeContender(
            data, model=models(shape, n)[1],
            extra=lambda: teacher.predict(images, verbose=0), epochs=args.epochs,
        ),
    }
    cached = dataclasses.replace(
        data, train=precompute_teacher_logits(teacher, data.train)
    )
    contenders["distiller_precomputed"] = RecipeContender(
        cached, model=Distiller(teacher, models(shape, n)[1]), epochs=args.epochs)
    contenders["student"] = RecipeContender(data, model=models(shape, n)[1],
                                            epochs=args.epochs)

    old = create_model("lenet5", num_classes=n, input_shape=shape)
    lwf = LwFModel(old, n)
    lwf.freeze(backbone=False, old_head=False)
    recorded = dataclasses.replace(data, train=lwf.record_old_outputs(data.train))
    contenders["lwf"] = RecipeContender(recorded, model=lwf, epochs=args.epochs)
    plain_net = LwFModel(old, n).network
    contenders["plain_new_head"] = RecipeContender(
        data, model=keras.Model(plain_net.input, plain_net.output["new"]),
        epochs=args.epochs)

    for contender in contenders.values():
        contender.run()  # trace, compile, fill caches
    times = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, contender in contenders.items():
            times[name].append(contender.run(args.epochs))
    print(
        f"{data.counts['train']} images, batch {flags.batch_size}; "
        "seconds per epoch per round:"
    )
    for name, values in times.items():
        print(f"  {name:24s} " + "  ".join(f"{v:6.3f}" for v in values))
    for a, b in [
        ("distiller", "student+teacher.predict"),
        ("distiller_precomputed", "student"),
        ("lwf", "plain_new_head"),
    ]:
        ratio = statistics.median(x / y for x, y in zip(times[a], times[b]))
        print(f"{a} / {b}: {ratio:.2f}x (median of per-round ratios)")


if __name__ == "__main__":
    main()
