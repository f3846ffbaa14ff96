"""LeNet-5 (LeCun et al. 1998), in its common modern form."""

import keras

from kzoo.models import heads
from kzoo.models.registry import ModelNoise, register_model

# The options of `lenet5` beyond num_classes/input_shape, with its defaults
# (tests/models/test_registry.py checks them against the signature).
LENET_OPTIONS = dict(
    include_top=True,
    pooling=None,
    width=1.0,
    activation="relu",
    dropout=0.0,
    include_preprocessing=True,
    classifier_activation=None,
    name="lenet5",
)
LENET_NOISE = ModelNoise(
    "dropout after the hidden FC layers (fc1, fc2)", option="dropout"
)


@register_model(
    default_input_shape=(32, 32, 1),
    family="lenet",
    options=LENET_OPTIONS,
    noise=LENET_NOISE,
    feature_layers=heads.FEATURE_LAYERS,
    tunable=("width", "dropout"),
)
def lenet5(
    num_classes=10,
    input_shape=(32, 32, 1),
    include_top=True,
    pooling=None,
    width=1.0,
    activation="relu",
    dropout=0.0,
    include_preprocessing=True,
    classifier_activation=None,
    name="lenet5",
):
    """LeNet-5: Conv(6, 5x5)-Pool-Conv(16, 5x5)-Pool-FC120-FC84-FC.

    Convolutions are 'valid' with stride 1, pools are 2x2 max pools with
    stride 2. At 32x32x1 with 10 classes the model has 61,706 parameters.

    Args:
        num_classes: Number of classes.
        input_shape: `(height, width, channels)`, at least 16x16.
        include_top: Whether to add the FC120-FC84-FC classifier.
        pooling: None (flatten with the top; feature map without),
            `"flatten"`, `"avg"` or `"max"`.
        width: Multiplier for filters and hidden units (1.0 = paper).
        activation: Activation of the hidden layers (`"tanh"` is closer to
            the 1998 paper; `"relu"` trains faster).
        dropout: Dropout rate after each hidden FC layer (0 = paper).
        include_preprocessing: Prepend `Rescaling(1/255)`, so the model takes
            pixel values in [0, 255].
        classifier_activation: None returns logits.
        name: Model name.

    Returns:
        A `keras.Model`.

    Reference:
        LeCun, Bottou, Bengio, Haffner. "Gradient-based learning applied to
        document recognition". Proc. IEEE 1998.
    """
    input_shape = heads.validate_common(
        num_classes, input_shape, include_top, pooling, width
    )
    heads.check_min_size("lenet5", input_shape, 16)
    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    if include_preprocessing:
        x = heads.preprocessing_layer("unit", input_shape[-1])(x)
    for i, filters in enumerate((6, 16), start=1):
        x = keras.layers.Conv2D(
            heads.scaled(filters, width), 5, activation=activation, name=f"conv{i}"
        )(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"pool{i}")(x)
    x = heads.classifier_head(
        x,
        num_classes,
        include_top,
        pooling,
        hidden_units=[heads.scaled(u, width) for u in (120, 84)],
        dropout=dropout,
        classifier_activation=classifier_activation,
        activation=activation,
    )
    return keras.Model(inputs, x, name=name)
