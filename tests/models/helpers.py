"""Small but complete configurations of the registered models."""

import numpy as np

from kzoo.models import create_model

SMALL = {
    "lenet5": dict(input_shape=(16, 16, 1)),
    "perceptron": dict(input_shape=(8, 8, 1)),
    "alexnet": dict(input_shape=(67, 67, 3), width=1 / 16),
}
VGG_SMALL = dict(input_shape=(32, 32, 3), width=1 / 16)


def small_kwargs(name):
    """Keyword arguments building `name` small (a few filters, 8-67 px)."""
    return dict(SMALL.get(name, VGG_SMALL))


def small_model(name, /, num_classes=3, **kwargs):
    kwargs = {**small_kwargs(name), **kwargs}
    return create_model(name, num_classes=num_classes, **kwargs)


def images_for(model, n=4, seed=0):
    shape = (n,) + tuple(model.input_shape[1:])
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")
