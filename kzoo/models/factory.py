"""`create_model`: a registered model by name, optionally pretrained.

Apart from the registry (`registry.py`, which the builders import to
register themselves) because pretrained weights (`pretrained.py`) need
the registry too.
"""

import os

from kzoo.models.archive import load_keras_file
from kzoo.models.pretrained import create_pretrained
from kzoo.models.registry import get_model_entry


def create_model(name, /, num_classes=1000, input_shape=None, weights=None,
                 **kwargs):
    """Build a registered model by name.

    Args:
        name: A name from `list_models()`. Positional only, so that the
            model's own `name` option can be passed as a keyword.
        num_classes: Number of output classes.
        input_shape: `(height, width, channels)`; the model's default if None.
        weights: None (random), `"imagenet"` (`pretrained_models()`, see
            `kzoo.models.pretrained`: the `keras.applications` file, fetched
            once into the Keras cache; 3 channels. VGG-16/19: sets
            `preprocessing="caffe"`; with `include_top=True` it needs 1000
            classes at 224x224x3, without any size. The applications
            (`mobilenet_v3_small`, ...): the backbone from its no-top file,
            any classes and size from 32 px, a new classifier), or what
            every layer's weights come
            from: a `keras.applications` `.h5`/`.weights.h5` file, or a
            trained model of the same architecture (a `.keras` file or a
            `keras.Model`). To keep a new classifier, build without weights
            and call `kzoo.models.initial_weights`.
        **kwargs: Options of the model (`get_model_entry(name).options`:
            `include_top`, `pooling`, `width`, `classifier_activation`, ...).

    Returns:
        A `keras.Model` returning logits unless `classifier_activation` is set.

    Raises:
        ValueError: On an unknown name or option (the message lists the
            valid ones) or an invalid option value; `kzoo.errors.KzooError`
            (a `ValueError`) on weights that do not fit.

    Example:
        >>> model = create_model("vgg11_bn", num_classes=10,
        ...                      input_shape=(32, 32, 3), width=0.25)
        >>> backbone = create_model("vgg16", input_shape=(64, 64, 3),
        ...                         include_top=False, weights="imagenet")
    """
    entry = get_model_entry(name)
    entry.check_options(kwargs)
    if input_shape is None:
        input_shape = entry.default_input_shape
    if _is_keras_file(weights):
        weights = load_keras_file(os.fspath(weights))
    if weights is not None:
        return create_pretrained(entry, num_classes, input_shape, weights, kwargs)
    return entry.builder(num_classes=num_classes, input_shape=input_shape, **kwargs)


def _is_keras_file(weights):
    return (isinstance(weights, (str, os.PathLike))
            and os.fspath(weights).endswith(".keras") and os.path.isfile(weights))
