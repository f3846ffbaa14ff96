"""Tiny models and data for the training-wrapper tests."""


import keras
import numpy as np
import tensorflow as tf

from kzoo.models import create_model
from kzoo.runtime import make_strategy

SHAPE = (16, 16, 1)


def images_and_labels(n=40, num_classes=4, seed=0):
    """Random images in [0, 255] whose mean brightness band is the label."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, num_classes, n)
    base = (y[:, None, None, None] + 0.5) * (255.0 / num_classes)
    x = np.clip(base + rng.normal(0, 30, (n,) + SHAPE), 0, 255).astype("float32")
    return x, y.astype("int32")


def teacher_model(num_classes=4, seed=1):
    keras.utils.set_random_seed(seed)
    return create_model(
        "lenet5", num_classes=num_classes, input_shape=SHAPE, dropout=0.0
    )


def student_model(num_classes=4, seed=2):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input(SHAPE),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(num_classes, name="predictions"),
        ],
        name="student",
    )


def dataset(x, y, batch_size=12):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def ce(targets, logits):
    """Cross-entropy of `targets` under softmax(`logits`), per row (numpy)."""
    log_p = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    return -np.sum(targets * log_p, axis=-1)


def softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def max_difference(a, b):
    return max(float(np.max(np.abs(u - v))) for u, v in zip(a, b))


def assert_two_replicas_equal_one_device(run, keys, atol=0.0):
    """`run(strategy)` -> `(history, weights)`, trained once on the default
    strategy and once on `replica_strategy()`: weights within 1e-6, the
    histories' `keys` within rtol 1e-5 (and `atol`)."""
    one_history, one_weights = run(tf.distribute.get_strategy())
    two_history, two_weights = run(replica_strategy())
    assert max_difference(one_weights, two_weights) < 1e-6
    for key in keys:
        np.testing.assert_allclose(two_history[key], one_history[key], rtol=1e-5,
                                   atol=atol)


def replica_strategy():
    """Two replicas on the logical CPUs that tests/conftest.py creates: the
    strategy `--strategy mirrored` uses.

    One instance per process (`make_strategy` caches it): a second
    MirroredStrategy restarts the collective-op instance keys, and the
    runtime then rejects reductions of other shapes under keys an earlier
    test used.
    """
    strategy = make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    return strategy
