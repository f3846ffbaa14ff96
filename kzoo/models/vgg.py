"""VGG-11/13/16/19, with and without batch norm (Simonyan & Zisserman 2015).

Layer names follow `keras.applications.VGG16` (`block1_conv1`, ...,
`block5_pool`, `fc1`, `fc2`, `predictions`), so its weight files load:
`create_model("vgg16", weights="imagenet")` (see `kzoo.models.pretrained`).
"""

import keras

from kzoo.models import heads
from kzoo.models.registry import ModelNoise, register_model

# Convolutions per block; block b has 64 * 2**(b-1) filters, capped at 512.
VGG_CFGS = {
    "vgg11": (1, 1, 2, 2, 2),  # config A
    "vgg13": (2, 2, 2, 2, 2),  # config B
    "vgg16": (2, 2, 3, 3, 3),  # config D
    "vgg19": (2, 2, 4, 4, 4),  # config E
}
_BLOCK_FILTERS = (64, 128, 256, 512, 512)
# What `preprocessing` takes (see `heads.preprocess`).
PREPROCESSING = ("mean_rgb", "caffe", None)

# The options of every VGG beyond num_classes/input_shape, with the defaults
# of `_vgg` (tests/models/test_registry.py checks them against its signature).
# `name=None` names the model after its variant.
VGG_OPTIONS = dict(
    include_top=True,
    pooling=None,
    width=1.0,
    dropout=0.5,
    include_preprocessing=True,
    preprocessing="mean_rgb",
    classifier_activation=None,
    name=None,
)
VGG_NOISE = ModelNoise("dropout after fc1 and fc2", option="dropout")


def _register_vgg(builder):
    """Register a VGG variant. Its features end at the input of fc1:
    block5_pool flattened (or pooled by `pooling`)."""
    return register_model(
        default_input_shape=(224, 224, 3),
        family="vgg",
        options=VGG_OPTIONS,
        noise=VGG_NOISE,
        feature_layers=heads.FEATURE_LAYERS,
        tunable=("width", "dropout"),
    )(builder)


def _vgg(
    cfg_name,
    batch_norm,
    num_classes=1000,
    input_shape=(224, 224, 3),
    include_top=True,
    pooling=None,
    width=1.0,
    dropout=0.5,
    include_preprocessing=True,
    preprocessing="mean_rgb",
    classifier_activation=None,
    name=None,
):
    """Build one VGG variant; see `vgg16` for the arguments."""
    input_shape = heads.validate_common(
        num_classes, input_shape, include_top, pooling, width
    )
    preprocessing = _preprocessing(include_preprocessing, preprocessing)
    inputs = keras.Input(shape=input_shape, name="images")
    x = heads.preprocess(inputs, preprocessing, input_shape[-1])
    for block, (convs, filters) in enumerate(
        zip(VGG_CFGS[cfg_name], _BLOCK_FILTERS), start=1
    ):
        for i in range(1, convs + 1):
            x = keras.layers.Conv2D(
                heads.scaled(filters, width),
                3,
                padding="same",
                activation=None if batch_norm else "relu",
                name=f"block{block}_conv{i}",
            )(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(name=f"block{block}_bn{i}")(x)
                x = keras.layers.ReLU(name=f"block{block}_relu{i}")(x)
        # 'same' padding equals the paper's pooling on even sizes and lets odd
        # sizes (28 px -> 14, 7, 4, 2, 1) reach block5.
        x = keras.layers.MaxPooling2D(
            2, strides=2, padding="same", name=f"block{block}_pool"
        )(x)
    x = heads.classifier_head(
        x,
        num_classes,
        include_top,
        pooling,
        hidden_units=[heads.scaled(4096, width)] * 2,
        dropout=dropout,
        classifier_activation=classifier_activation,
    )
    default_name = cfg_name + ("_bn" if batch_norm else "")
    return keras.Model(inputs, x, name=name or default_name)


def _preprocessing(include_preprocessing, preprocessing):
    """The preprocessing kind the two options ask for (None: none).

    Raises:
        ValueError: An unknown kind, or `include_preprocessing=False` with
            `preprocessing="caffe"`.
    """
    if preprocessing not in PREPROCESSING:
        raise ValueError(
            f"`preprocessing` must be one of {PREPROCESSING}. "
            f"Received: preprocessing={preprocessing!r}"
        )
    if include_preprocessing:
        return preprocessing
    if preprocessing == "caffe":
        raise ValueError(
            "`include_preprocessing=False` leaves the preprocessing out; it "
            "conflicts with `preprocessing='caffe'` (use `preprocessing=None` "
            "alone). Received: include_preprocessing=False, preprocessing='caffe'"
        )
    return None


def _register(cfg_name, batch_norm):
    def builder(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
        return _vgg(cfg_name, batch_norm, num_classes, input_shape, **kwargs)

    builder.__name__ = cfg_name + ("_bn" if batch_norm else "")
    builder.__qualname__ = builder.__name__
    builder.__doc__ = (
        f"VGG config {'ABDE'['vgg11 vgg13 vgg16 vgg19'.split().index(cfg_name)]}"
        f"{' with batch norm' if batch_norm else ''}. See `vgg16`."
    )
    return _register_vgg(builder)


vgg11 = _register("vgg11", False)
vgg13 = _register("vgg13", False)
vgg19 = _register("vgg19", False)
vgg11_bn = _register("vgg11", True)
vgg13_bn = _register("vgg13", True)
vgg16_bn = _register("vgg16", True)
vgg19_bn = _register("vgg19", True)


@_register_vgg
def vgg16(num_classes=1000, input_shape=(224, 224, 3), **kwargs):
    """VGG-16 (config D): 13 3x3 convolutions in 5 blocks, 3 FC layers.

    At 224x224x3 with 1000 classes the model has 138,357,544 parameters.
    ImageNet weights (the `keras.applications.VGG16` files):
    `create_model("vgg16", weights="imagenet")`, which also sets
    `preprocessing="caffe"`; any file of `keras.applications.VGG16` loads
    with `kzoo.models.load_keras_applications_weights`.

    Args:
        num_classes: Number of classes.
        input_shape: `(height, width, channels)`. Any size from 1 px works:
            pools use 'same' padding, identical to the paper's on even sizes.
        include_top: Whether to add FC4096-FC4096-FC.
        pooling: None (flatten with the top; feature map without),
            `"flatten"`, `"avg"` or `"max"`.
        width: Multiplier for filters and hidden units (1.0 = paper), e.g.
            0.25 for small data on a CPU.
        dropout: Dropout rate after fc1 and fc2 (paper: 0.5).
        include_preprocessing: Prepend the `preprocessing`, so the model
            takes pixel values in [0, 255] in RGB order. False is the same
            as `preprocessing=None`.
        preprocessing: `"mean_rgb"` subtracts the ImageNet mean RGB (the
            paper's only preprocessing; one layer named `preprocessing`);
            `"caffe"` is the input convention of the `keras.applications`
            ImageNet weights, equal to `keras.applications.vgg16
            .preprocess_input` (RGB -> BGR, then minus the BGR mean; layers
            `preprocessing` and `preprocessing_mean`); None adds nothing
            (the model takes inputs normalised outside).
        classifier_activation: None returns logits.
        name: Model name.

    Returns:
        A `keras.Model`.

    Reference:
        Simonyan, Zisserman. "Very Deep Convolutional Networks for
        Large-Scale Image Recognition". ICLR 2015.
    """
    return _vgg("vgg16", False, num_classes, input_shape, **kwargs)
