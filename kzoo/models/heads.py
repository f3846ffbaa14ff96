"""Pieces shared by the builders: argument checks, preprocessing and heads."""

import keras

from kzoo.layers import Dropout, ReverseChannels

POOLING_MODES = (None, "flatten", "avg", "max")

# The layer `classifier_head` pools with, for each `pooling` (None: the
# papers' flatten under the FC classifier): where the features end.
FEATURE_LAYERS = {
    None: "flatten",
    "flatten": "flatten",
    "avg": "avg_pool",
    "max": "max_pool",
}

# ImageNet mean RGB in [0, 255] (the VGG paper's "mean RGB value" subtraction).
IMAGENET_MEAN_RGB = (123.68, 116.779, 103.939)
# The same in BGR order: what `keras.applications`' "caffe" mode subtracts.
IMAGENET_MEAN_BGR = IMAGENET_MEAN_RGB[::-1]
# `keras.applications`' "torch" mode: the ImageNet mean and standard
# deviation of RGB in [0, 1] (EfficientNetV2 and ConvNeXt normalise so).
IMAGENET_MEAN_UNIT = (0.485, 0.456, 0.406)
IMAGENET_STD_UNIT = (0.229, 0.224, 0.225)


def scaled(units, width, multiple=1):
    """`units * width`, rounded to a positive multiple of `multiple`."""
    value = int(round(units * width / multiple)) * multiple
    return max(multiple, value)


def validate_common(num_classes, input_shape, include_top, pooling, width):
    """Check the arguments every builder takes; returns `input_shape` as tuple.

    Raises:
        ValueError: With the expected form and `Received: ...`.
    """
    if pooling not in POOLING_MODES:
        raise ValueError(
            f"`pooling` must be one of {POOLING_MODES}. Received: pooling={pooling!r}"
        )
    if include_top and (not isinstance(num_classes, int) or num_classes < 1):
        raise ValueError(
            "`num_classes` must be a positive integer when `include_top=True`. "
            f"Received: num_classes={num_classes!r}"
        )
    if not width > 0:
        raise ValueError(f"`width` must be > 0. Received: width={width!r}")
    shape = tuple(input_shape)
    if len(shape) != 3 or any(
        not isinstance(d, int) or d < 1 for d in shape
    ):
        raise ValueError(
            "`input_shape` must be (height, width, channels) with positive "
            f"integers. Received: input_shape={input_shape!r}"
        )
    return shape


def check_min_size(model_name, input_shape, min_size):
    """Raise a clear error when the image is too small for the pooling stages."""
    if min(input_shape[:2]) < min_size:
        raise ValueError(
            f"{model_name} needs images of at least {min_size}x{min_size} pixels "
            "so that every pooling stage has an input. "
            f"Received: input_shape={tuple(input_shape)}"
        )


def preprocessing_layer(kind, channels):
    """The in-model input normalisation for inputs in [0, 255].

    Args:
        kind: `"unit"` (scale to [0, 1]), `"mean_rgb"` (subtract the
            ImageNet mean colour; its average for one channel), or one of
            `keras.applications`' modes: `"tf"` (scale to [-1, 1]) or
            `"torch"` (scale to [0, 1], then standardise with the ImageNet
            mean and standard deviation of each colour; their averages for
            one channel).
        channels: Number of image channels.
    """
    if kind == "unit":
        return keras.layers.Rescaling(1.0 / 255.0, name="preprocessing")
    if kind == "tf":
        return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0,
                                      name="preprocessing")
    if kind == "torch":
        mean = _per_channel(IMAGENET_MEAN_UNIT, channels)
        std = _per_channel(IMAGENET_STD_UNIT, channels)
        return keras.layers.Normalization(
            mean=[255.0 * m for m in mean],
            variance=[(255.0 * s) ** 2 for s in std], name="preprocessing")
    if kind == "mean_rgb":
        return keras.layers.Normalization(
            mean=_per_channel(IMAGENET_MEAN_RGB, channels),
            variance=[1.0] * channels, name="preprocessing"
        )
    raise ValueError(f"Unknown preprocessing. Received: kind={kind!r}")


def _per_channel(rgb, channels):
    """An RGB statistic for `channels` channels: itself for 3, else the
    average of the three for each."""
    return list(rgb) if channels == 3 else [sum(rgb) / 3.0] * channels


def preprocess(x, kind, channels):
    """Apply the in-model input normalisation `kind` to `x` (pixels in [0, 255]).

    Args:
        x: The input tensor (RGB order for 3 channels).
        kind: `"unit"`, `"mean_rgb"`, `"tf"` or `"torch"` (one layer named
            `preprocessing`, see `preprocessing_layer`), `"caffe"` (the `keras.applications`
            convention of VGG's ImageNet weights, equal to
            `keras.applications.vgg16.preprocess_input`: `ReverseChannels`
            named `preprocessing` turns RGB into BGR, then a `Normalization`
            named `preprocessing_mean` subtracts the BGR ImageNet mean; no
            scaling), or None (`x` unchanged).
        channels: Number of image channels.

    Returns:
        The normalised tensor.

    Raises:
        ValueError: `"caffe"` with other than 3 channels, or an unknown kind.
    """
    if kind is None:
        return x
    if kind != "caffe":
        return preprocessing_layer(kind, channels)(x)
    if channels != 3:
        raise ValueError(
            "The 'caffe' preprocessing takes RGB images (3 channels). "
            f"Received: channels={channels}"
        )
    x = ReverseChannels(name="preprocessing")(x)
    return keras.layers.Normalization(
        mean=list(IMAGENET_MEAN_BGR), variance=[1.0] * 3, name="preprocessing_mean"
    )(x)


def classifier_head(
    x,
    num_classes,
    include_top,
    pooling,
    hidden_units,
    dropout,
    classifier_activation,
    activation="relu",
):
    """Pool the features and, with `include_top`, add the FC classifier.

    With `include_top=True`, `pooling=None` means the papers' flatten. With
    `include_top=False`, `pooling=None` returns the feature map.

    Layers are named `flatten`/`avg_pool`/`max_pool` (`FEATURE_LAYERS`),
    `fc1`, `fc2`, ..., `predictions`.
    """
    if pooling is None and include_top:
        pooling = "flatten"
    name = FEATURE_LAYERS[pooling]
    if pooling == "flatten":
        x = keras.layers.Flatten(name=name)(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name=name)(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name=name)(x)
    if not include_top:
        return x
    for i, units in enumerate(hidden_units, start=1):
        x = keras.layers.Dense(units, activation=activation, name=f"fc{i}")(x)
        if dropout:
            x = Dropout(dropout, name=f"fc{i}_dropout")(x)
    return logits_layer(num_classes, classifier_activation)(x)


def logits_layer(num_classes, activation=None, name="predictions"):
    """The classifier `Dense` layer, computing in float32 under any global
    dtype policy: under mixed precision the logits (and the losses and
    exported outputs built on them) stay float32, as the mixed-precision
    guides advise for the last layer."""
    return keras.layers.Dense(num_classes, activation=activation, name=name,
                              dtype="float32")
