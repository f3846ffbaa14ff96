"""Online pseudo-labels (Lee 2013): `kzoo pseudo-label`; and the pieces of a
semi-supervised run that Noisy Student shares (`fit_semi_supervised`,
`require_pool`, `cache_pool`, the demo budget)."""

import os

import numpy as np

from kzoo.data import semi_supervised_batches
from kzoo.errors import KzooError
from kzoo.run import finish, fitting, inputs, progress
from kzoo.run.exporting import saved_model_note
from kzoo.run.result import RunResult
from kzoo.run.session import session
from kzoo.semi_supervised import PseudoLabelModel, UnlabeledWeightSchedule

# Decoded pools up to this size are cached in memory between epochs; larger
# ones are streamed from their files every epoch.
CACHE_LIMIT_BYTES = 2 * 1024**3
# The label budget of a semi-supervised demo on the bundled digits (see
# `kzoo.run.inputs.demo_budget`).
DEFAULT_LABELS_PER_CLASS = 5


def pseudo_label(config):
    """Train --model on labelled + unlabelled images with online
    pseudo-labels, the unlabelled weight ramped by `UnlabeledWeightSchedule`.

    Args:
        config: A `RunConfig` of `pseudo-label`
            (`kzoo.run.configure("pseudo-label", ...)`).

    Returns:
        `RunResult` with the network's test metrics, its SavedModel and the
        network (`PseudoLabelModel.network`).

    Raises:
        KzooError: No unlabelled images, a bad --t1/--t2, or any error of
            the run's data, model or output folder.

    Reference:
        Lee. "Pseudo-Label: The Simple and Efficient Semi-Supervised Learning
        Method for Deep Neural Networks", ICML 2013 Workshop.
    """
    config = with_budget(config)
    with session(config) as run:
        size = inputs.input_size(config)
        inputs.make_policy(config.augment, (size, size), None, config.seed)
        data = inputs.load_training_data(config, size)
        require_pool(data)
        out = run.output_dir(config.out or os.path.join(
            "saved_models", f"pseudo_label-{data.name}"))
        inputs.describe_data(data)
        t1, t2 = ramp_epochs(config)
        finish.write_config(config, data, out, input_size=size, t1=t1, t2=t2)
        model = PseudoLabelModel(
            inputs.build_model(config, data, weights=config.weights),
            unlabeled_weight=0.0,
            threshold=config.threshold, soft=config.soft,
            label_smoothing=config.label_smoothing)
        schedule = UnlabeledWeightSchedule(
            config.unlabeled_weight, t1, t2, steps_per_pass=fitting.fit_plan(
                config, pass_size(config, data, data.counts["unlabeled"])
            ).steps_per_pass)
        progress.banner(
            f"pseudo-label: {config.model} on {data.counts['train']} labelled + "
            f"{data.counts['unlabeled']} unlabelled images; weight 0 -> "
            f"{config.unlabeled_weight:g} from epoch {t1} to {t2}")
        fit_semi_supervised(model, config, data, data.unlabeled,
                            data.counts["unlabeled"], out,
                            extra_callbacks=[schedule], phase="pseudo-label")
        metrics, version_dir = finish.finish(model.network, config, data, out)
    progress.say(f"test accuracy {progress.number(metrics['test_accuracy'])} on "
                 f"{metrics['num_examples']} images; {saved_model_note(version_dir)}")
    return RunResult("pseudo-label", out, metrics, version_dir, model=model.network)


def with_budget(config):
    """On the bundled digits `DEFAULT_LABELS_PER_CLASS` labels per class
    unless --labels-per-class or --label-fraction says; any other data keeps
    its labels (see `kzoo.run.inputs.demo_budget`)."""
    return inputs.demo_budget(config, DEFAULT_LABELS_PER_CLASS)


def require_pool(data):
    """Refuse data without unlabelled images.

    Raises:
        KzooError: Saying how to get an unlabelled pool.
    """
    if not data.counts["unlabeled"]:
        raise KzooError(
            "No unlabelled images: add DIR/unlabeled/, or set a label budget "
            "(--labels-per-class or --label-fraction) to hold labelled images "
            "back as unlabelled.")


def ramp_epochs(config):
    """`(t1, t2)` of the α(t) ramp: --t1/--t2, or 10% / 60% of --epochs.

    Raises:
        KzooError: Unless 0 <= t1 <= t2.
    """
    t1 = int(0.1 * config.epochs) if config.t1 is None else config.t1
    t2 = max(t1, int(0.6 * config.epochs)) if config.t2 is None else config.t2
    if not 0 <= t1 <= t2:
        raise KzooError(f"Expected 0 <= --t1 <= --t2. Received: t1={t1}, t2={t2}")
    return t1, t2


def fit_semi_supervised(model, config, data, pool, pool_size, out,
                        targets_key=None, epochs=None, extra_callbacks=(),
                        phase="training"):
    """Compile and `fitting.fit` `model` on labelled + `pool` batches.

    An epoch is one pass over the longer stream: the labelled images, or the
    pool in batches of --ratio x --batch-size. The pool gets --augment too
    (seeded `seed + 1`): with `targets_key` its targets (one-hot or soft)
    follow label-mixing entries; without, its images alone are augmented
    and its labels (-1) pass through.

    Args:
        model: A `PseudoLabelModel`.
        config: The run's config (its --augment, --ratio, --batch-size, ...).
        data: The run's `DataSplits` (labelled training split, validation).
        pool: Unbatched `(image, label or target)` dataset.
        pool_size: Images in one pass over `pool`.
        out: Folder of this fit's logs and backup.
        targets_key: Key of the pool's fixed targets in the batches (None:
            online targets).
        epochs: Default: --epochs.
        extra_callbacks: More Keras callbacks.
        phase: Name of the progress bar.

    Returns:
        The Keras `History`.
    """
    policy = inputs.make_policy(config.augment, data.image_shape[:2],
                                data.num_classes, config.seed + 1)
    unlabeled_map = None
    if policy.layers and targets_key is not None:
        unlabeled_map = policy.map_fn
    elif policy.layers:
        def unlabeled_map(x, y):  # the pool's labels are -1: keep them as are
            return policy(x), y

    batches = semi_supervised_batches(
        data.train, pool, config.batch_size, config.ratio, seed=config.seed,
        labeled_map=inputs.train_map(data, config), unlabeled_map=unlabeled_map,
        cache_unlabeled=cache_pool(config, data, pool_size),
        targets_key=targets_key)
    num_train = pass_size(config, data, pool_size)
    fitting.compile_model(model, config, num_train)
    return fitting.fit(model, config, data, out, epochs=epochs, train=batches,
                       num_train=num_train, extra_callbacks=extra_callbacks,
                       phase=phase)


def pass_size(config, data, pool_size):
    """Labelled images in one pass of `fit_semi_supervised`: the labelled
    split, or as many batches as a pass over the pool takes."""
    pool_steps = -(-pool_size // (config.batch_size * config.ratio))
    return max(data.counts["train"], pool_steps * config.batch_size)


def cache_pool(config, data, pool_size):
    """--cache-pool, or whether the decoded pool takes under
    `CACHE_LIMIT_BYTES` (float32 images)."""
    if config.cache_pool is not None:
        return config.cache_pool
    return pool_size * int(np.prod(data.image_shape)) * 4 <= CACHE_LIMIT_BYTES
