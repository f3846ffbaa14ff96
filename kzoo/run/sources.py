"""Runs that start from a trained model: `kzoo distill`, `lwf`, `transfer`.

What they share: loading the trained model (a `.keras` file or a kzoo
SavedModel, see `kzoo.training.load_model_source`) and saying what it is,
counting a model's parameters for people, and the folder such a run writes
to by default.
"""

import os

import keras

from kzoo.run import progress
from kzoo.training import load_model_source
from kzoo.training.sources import is_layered


def load_trained(path, role):
    """The trained model at `path`, said in one line.

    Args:
        path: A `.keras` file, a SavedModel version folder or a folder
            holding `model.keras`.
        role: What the model is to this run (`"teacher"`, `"old model"`).

    Returns:
        The `keras.Model` (logits out).

    Raises:
        KzooError: Nothing loadable is at `path`.
    """
    model = load_model_source(path)
    height, width, channels = model.input_shape[1:]
    progress.say(f"{role}: {path}; {height}x{width}x{channels} images -> "
                 f"{model.output_shape[-1]} classes, {parameters(model)}")
    return model


def parameters(model):
    """`'61,706 parameters (850 trainable)'`, or what a model without Keras
    layers (a SavedModel signature) is."""
    if not is_layered(model):
        return "a SavedModel signature (no Keras layers)"
    total = model.count_params()
    trainable = trainable_parameters(model)
    if trainable == total:
        return f"{total:,} parameters"
    return f"{total:,} parameters ({trainable:,} trainable)"


def trainable_parameters(model):
    """The number of trainable weights of `model`."""
    return sum(int(keras.ops.size(w)) for w in model.trainable_weights)


def output_dir(run, config, data):
    """`run.output_dir` of --out, by default `saved_models/<command>-<data>`."""
    default = os.path.join("saved_models", f"{config.command.name}-{data.name}")
    return run.output_dir(config.out or default)
