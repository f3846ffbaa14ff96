"""The pieces every semi-supervised run shares: the demo label budget, the
unlabelled pool (required, cached or streamed, how much of it a pass
takes) and the `fit` on labelled + unlabelled batches
(`fit_semi_supervised`). Used by `kzoo pseudo-label`, `kzoo noisy-student`
and `kzoo fixmatch`."""

import numpy as np

from kzoo.data import semi_supervised_batches
from kzoo.errors import KzooError
from kzoo.run import fitting, inputs

# Decoded pools up to this size are cached in memory between epochs; larger
# ones are streamed from their files every epoch.
CACHE_LIMIT_BYTES = 2 * 1024**3
# The label budget of a semi-supervised demo on the bundled digits (see
# `kzoo.run.inputs.demo_budget`).
DEFAULT_LABELS_PER_CLASS = 5


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
