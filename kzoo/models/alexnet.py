"""AlexNet (Krizhevsky et al. 2012) with real Local Response Normalization."""

import keras

from kzoo.layers import LocalResponseNormalization
from kzoo.models import heads
from kzoo.models.registry import ModelNoise, register_model

NORMALIZATIONS = ("lrn", "batchnorm", None)

# (filters, kernel, strides, padding, grouped) of the five convolutions.
_CONVS = (
    (96, 11, 4, "valid", False),
    (256, 5, 1, "same", True),
    (384, 3, 1, "same", False),
    (384, 3, 1, "same", True),
    (256, 3, 1, "same", True),
)
# Smallest square input for which pool5 still has an output
# (227 -> 55 -> 27 -> 13 -> 6 in the paper).
MIN_INPUT_SIZE = 67

# The options of `alexnet` beyond num_classes/input_shape, with its defaults
# (tests/models/test_registry.py checks them against the signature).
ALEXNET_OPTIONS = dict(
    include_top=True,
    pooling=None,
    width=1.0,
    normalization="lrn",
    groups=1,
    dropout=0.5,
    include_preprocessing=True,
    classifier_activation=None,
    name="alexnet",
)
ALEXNET_NOISE = ModelNoise("dropout after fc1 and fc2", option="dropout")


# Features end at the input of fc1: pool5 flattened (or pooled by `pooling`).
@register_model(
    default_input_shape=(227, 227, 3),
    family="alexnet",
    options=ALEXNET_OPTIONS,
    noise=ALEXNET_NOISE,
    feature_layers=heads.FEATURE_LAYERS,
    tunable=("width", "dropout"),
)
def alexnet(
    num_classes=1000,
    input_shape=(227, 227, 3),
    include_top=True,
    pooling=None,
    width=1.0,
    normalization="lrn",
    groups=1,
    dropout=0.5,
    include_preprocessing=True,
    classifier_activation=None,
    name="alexnet",
):
    """AlexNet: Conv11x11/4-Pool-LRN-Conv5x5-Pool-LRN-Conv3x3 x3-Pool-FC x3.

    Pools are 3x3 with stride 2 (overlapping pooling). The normalisation
    layers are named `lrn1`, `lrn2` (or `bn1`, `bn2`).

    Args:
        num_classes: Number of classes.
        input_shape: `(height, width, channels)`, at least 67x67.
        include_top: Whether to add FC4096-FC4096-FC.
        pooling: None (flatten with the top; feature map without),
            `"flatten"`, `"avg"` or `"max"`.
        width: Multiplier for filters and hidden units (1.0 = paper).
        normalization: `"lrn"` (paper: n=5, k=2, alpha=1e-4, beta=0.75),
            `"batchnorm"` (the usual modern replacement) or None.
        groups: 1, or 2 for the paper's two-tower convolutions (conv2, conv4,
            conv5 see only the half of the channels on their own GPU).
        dropout: Dropout rate after fc1 and fc2 (paper: 0.5).
        include_preprocessing: Prepend mean-RGB subtraction, so the model
            takes pixel values in [0, 255].
        classifier_activation: None returns logits.
        name: Model name.

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: On invalid arguments or too small an input.

    Reference:
        Krizhevsky, Sutskever, Hinton. "ImageNet Classification with Deep
        Convolutional Neural Networks". NeurIPS 2012.
    """
    input_shape = heads.validate_common(
        num_classes, input_shape, include_top, pooling, width
    )
    if normalization not in NORMALIZATIONS:
        raise ValueError(
            f"`normalization` must be one of {NORMALIZATIONS}. "
            f"Received: normalization={normalization!r}"
        )
    if groups not in (1, 2):
        raise ValueError(f"`groups` must be 1 or 2. Received: groups={groups!r}")
    heads.check_min_size("alexnet", input_shape, MIN_INPUT_SIZE)

    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    if include_preprocessing:
        x = heads.preprocessing_layer("mean_rgb", input_shape[-1])(x)
    for i, (filters, kernel, strides, padding, grouped) in enumerate(_CONVS, 1):
        conv_groups = groups if grouped else 1
        x = keras.layers.Conv2D(
            heads.scaled(filters, width, multiple=groups),
            kernel,
            strides=strides,
            padding=padding,
            groups=conv_groups,
            activation="relu",
            name=f"conv{i}",
        )(x)
        if i in (1, 2, 5):
            x = keras.layers.MaxPooling2D(3, strides=2, name=f"pool{i}")(x)
        if i in (1, 2):
            x = _normalization(normalization, i)(x) if normalization else x
    x = heads.classifier_head(
        x,
        num_classes,
        include_top,
        pooling,
        hidden_units=[heads.scaled(4096, width)] * 2,
        dropout=dropout,
        classifier_activation=classifier_activation,
    )
    return keras.Model(inputs, x, name=name)


def _normalization(kind, index):
    if kind == "lrn":
        return LocalResponseNormalization(
            size=5, bias=2.0, alpha=1e-4, beta=0.75, name=f"lrn{index}"
        )
    return keras.layers.BatchNormalization(name=f"bn{index}")
