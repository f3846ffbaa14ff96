"""Train on labelled and unlabelled images with online pseudo-labels (Lee 2013).

    python recipes/pseudo_label.py                        # digits, 5 labels/class
    python recipes/pseudo_label.py --label-fraction 0.05
    python recipes/pseudo_label.py --data DIR --labels-per-class 10 --threshold 0.95

The 5 labels per class are a demo budget of the bundled digits; any other
data keeps every label unless --labels-per-class/--label-fraction says.

Every update trains on a batch of labelled images and --ratio times as many
unlabelled ones, whose targets are the network's own current predictions
(--soft: probabilities; else argmax, only those >= --threshold). The
unlabelled loss weight ramps from 0 to --unlabeled-weight between epochs
--t1 and --t2 (the paper's α(t)). An epoch is one pass over the unlabelled
pool. Writes train.py's outputs (config, metrics, model.keras, SavedModel of
the network) to --out. Every other flag is `recipes/train.py`'s.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import train as train_recipe  # noqa: E402

from kzoo import cli  # noqa: E402
from kzoo.data import semi_supervised_batches  # noqa: E402
from kzoo.errors import KzooError  # noqa: E402
from kzoo.semi_supervised import PseudoLabelModel, UnlabeledWeightSchedule  # noqa: E402

# Decoded pools up to this size are cached in memory between epochs; larger
# ones are streamed from their files every epoch.
CACHE_LIMIT_BYTES = 2 * 1024**3
DEFAULT_LABELS_PER_CLASS = 5


def build_parser():
    p = train_recipe.build_parser()
    p.description = __doc__.splitlines()[0]
    p.set_defaults(augment="default", epochs=60)
    add_semi_supervised_flags(p)
    p.add_argument("--threshold", type=cli.unit_interval, default=0.0,
                   help="confidence an online pseudo-label needs (Lee: 0)")
    p.add_argument("--soft", action="store_true",
                   help="probabilities as targets instead of one-hot argmax")
    p.add_argument("--unlabeled-weight", type=cli.non_negative_float, default=3.0,
                   help="final unlabelled loss weight α_f (Lee: 3)")
    p.add_argument("--t1", type=cli.non_negative_int, default=None,
                   help="epoch where α starts to rise (default: 10%% of --epochs)")
    p.add_argument("--t2", type=cli.non_negative_int, default=None,
                   help="epoch where α reaches α_f (default: 60%% of --epochs)")
    return p


def add_semi_supervised_flags(p):
    """Flags shared with noisy_student.py (which also applies `with_budget`)."""
    p.add_argument("--ratio", type=cli.positive_int, default=3,
                   help="unlabelled images per labelled image in a batch")
    p.add_argument("--cache-pool", action=argparse.BooleanOptionalAction,
                   default=None,
                   help="keep the decoded unlabelled pool in memory (default: "
                        "when it takes under 2 GiB; else streamed every epoch)")


def main(argv=None):
    args = with_budget(cli.parse_args(build_parser(), argv))
    with train_recipe.session(args) as run:
        return run_recipe(args, run)


def run_recipe(args, run):
    keras.utils.set_random_seed(args.seed)
    size = train_recipe.input_size(args)
    train_recipe.make_policy(args.augment, (size, size), None, args.seed)
    data = train_recipe.load_training_data(args, size)
    require_pool(data)
    out = run.output_dir(
        args.out or os.path.join("saved_models", f"pseudo_label-{data.name}"))
    train_recipe.describe_data(data)
    t1, t2 = ramp_epochs(args)
    train_recipe.write_config(args, data, out, input_size=size, t1=t1, t2=t2)
    model = PseudoLabelModel(
        train_recipe.build_model(args, data), unlabeled_weight=0.0,
        threshold=args.threshold, soft=args.soft,
        label_smoothing=args.label_smoothing,
    )
    schedule = UnlabeledWeightSchedule(args.unlabeled_weight, t1, t2)
    fit_semi_supervised(model, args, data, data.unlabeled, data.counts["unlabeled"],
                        out, extra_callbacks=[schedule])
    metrics, version_dir = train_recipe.finish(model.network, args, data, out)
    print(f"test accuracy {metrics['test_accuracy']:.4f} on "
          f"{metrics['num_examples']} images; SavedModel: {version_dir}")
    return 0


def with_budget(args):
    """On the bundled digits 5 labels per class unless --labels-per-class or
    --label-fraction says; any other data keeps its labels (see
    `train.demo_budget`)."""
    return train_recipe.demo_budget(args, DEFAULT_LABELS_PER_CLASS)


def require_pool(data):
    if not data.counts["unlabeled"]:
        raise KzooError(
            "No unlabelled images: add DIR/unlabeled/, or set a label budget "
            "(--labels-per-class or --label-fraction) to hold labelled images "
            "back as unlabelled."
        )


def ramp_epochs(args):
    """(t1, t2) of the α(t) ramp: the flags, or 10% / 60% of --epochs."""
    t1 = int(0.1 * args.epochs) if args.t1 is None else args.t1
    t2 = max(t1, int(0.6 * args.epochs)) if args.t2 is None else args.t2
    if not 0 <= t1 <= t2:
        raise KzooError(f"Expected 0 <= --t1 <= --t2. Received: t1={t1}, t2={t2}")
    return t1, t2


def fit_semi_supervised(model, args, data, pool, pool_size, out, targets_key=None,
                        epochs=None, extra_callbacks=()):
    """Compile and fit `model` on labelled + `pool` batches.

    An epoch is one pass over the longer stream: the labelled images, or the
    pool in batches of --ratio x --batch-size.
    """
    policy = train_recipe.make_policy(args.augment, data.image_shape[:2],
                                      data.num_classes, args.seed + 1)
    unlabeled_map = None  # same augmentation; targets pass through
    if policy.layers and targets_key is not None:
        unlabeled_map = policy.map_fn
    elif policy.layers:
        def unlabeled_map(x, y):  # the pool's labels are -1: keep them as are
            return policy(x, y)[0], y

    batches = semi_supervised_batches(
        data.train, pool, args.batch_size, args.ratio, seed=args.seed,
        labeled_map=train_recipe.train_map(data, args), unlabeled_map=unlabeled_map,
        cache_unlabeled=cache_pool(args, data, pool_size), targets_key=targets_key,
    )
    pool_steps = -(-pool_size // (args.batch_size * args.ratio))
    num_train = max(data.counts["train"], pool_steps * args.batch_size)
    train_recipe.compile_model(model, args, num_train)
    return train_recipe.fit(model, args, data, out, epochs=epochs, train=batches,
                            num_train=num_train, extra_callbacks=extra_callbacks)


def cache_pool(args, data, pool_size):
    if args.cache_pool is not None:
        return args.cache_pool
    return pool_size * int(np.prod(data.image_shape)) * 4 <= CACHE_LIMIT_BYTES


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
