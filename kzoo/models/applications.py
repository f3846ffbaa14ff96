"""Modern ImageNet backbones of `keras.applications` under kzoo's head:
MobileNetV3 Small and Large, EfficientNetV2-B0, ResNet50V2, ConvNeXt-Tiny.

Keras ships these networks and their ImageNet files; kzoo uses them as
they are. Each model is

    images -> preprocessing -> backbone -> [flatten] -> top_dropout -> predictions

- `preprocessing`: the input convention of the family's ImageNet weights,
  inside the model as VGG's is (so the model, its SavedModel, LiteRT and
  ONNX files take RGB pixels in [0, 255]): `"tf"` (to [-1, 1]) for
  MobileNetV3 and ResNet50V2, `"torch"` (ImageNet mean and deviation) for
  EfficientNetV2 and ConvNeXt; see `heads.preprocessing_layer`. The model
  equals `keras.applications.X(...)` applied to
  `keras.applications.<module>.preprocess_input(pixels)`.
- `backbone`: the `keras.applications` network with `include_top=False`,
  nested under that name (its own preprocessing left out, since kzoo's
  comes first; its `pooling` is the model's; ConvNeXt's depthwise
  convolutions as `DepthwiseConv2D`, which Keras writes as grouped
  `Conv2D`s: the same function, 6x faster on a CPU). The features end here
  (with `pooling="flatten"`: at `flatten`).
- `top_dropout`, `predictions`: kzoo's classifier (logits, float32).

`create_model("mobilenet_v3_small", num_classes=5, input_shape=(128, 128, 3),
weights="imagenet")` loads the backbone from the family's no-top ImageNet
file (see `kzoo.models.pretrained`); the classifier is new.
"""

import dataclasses
import inspect

import keras

from kzoo.layers import Dropout
from kzoo.models import heads
from kzoo.models.depthwise import plain_depthwise
from kzoo.models.registry import ModelNoise, get_model_entry, register_model

BACKBONE = "backbone"
# keras.applications refuses smaller images for these networks.
MIN_SIZE = 32
DEFAULT_INPUT_SHAPE = (224, 224, 3)
# Where the features end, by `pooling` ("flatten" first: `feature_layer_of`
# takes the first of these layers a model has).
FEATURE_LAYERS = {"flatten": "flatten", None: BACKBONE, "avg": BACKBONE,
                  "max": BACKBONE}


@dataclasses.dataclass(frozen=True)
class Application:
    """One `keras.applications` network as a kzoo model.

    Attributes:
        constructor: Its `keras.applications` function, e.g.
            `"MobileNetV3Small"`.
        family: kzoo's family name.
        preprocessing: The input convention of its ImageNet weights (a kind
            of `heads.preprocess`).
        width: Whether it takes a width multiplier (`alpha`).
        noise: Its model noise as a Noisy Student student.
    """

    constructor: str
    family: str
    preprocessing: str
    width: bool
    noise: ModelNoise


_DROPOUT = ModelNoise("dropout before predictions", option="dropout")
APPLICATIONS = {
    "mobilenet_v3_small": Application("MobileNetV3Small", "mobilenet_v3", "tf",
                                      True, _DROPOUT),
    "mobilenet_v3_large": Application("MobileNetV3Large", "mobilenet_v3", "tf",
                                      True, _DROPOUT),
    "efficientnet_v2_b0": Application(
        "EfficientNetV2B0", "efficientnet_v2", "torch", False,
        ModelNoise("dropout before predictions; stochastic depth (rate 0.2, "
                   "keras.applications') in the backbone", option="dropout")),
    "resnet50_v2": Application("ResNet50V2", "resnet_v2", "tf", False, _DROPOUT),
    "convnext_tiny": Application("ConvNeXtTiny", "convnext", "torch", False,
                                _DROPOUT),
}

# Every option of `_application`, with its default, in its order (a family
# without `width` leaves it out).
OPTIONS = dict(
    include_top=True,
    pooling="avg",
    width=1.0,
    dropout=0.2,
    include_preprocessing=True,
    classifier_activation=None,
    name=None,
)


def _application(
    variant,
    num_classes=1000,
    input_shape=DEFAULT_INPUT_SHAPE,
    include_top=True,
    pooling="avg",
    width=1.0,
    dropout=0.2,
    include_preprocessing=True,
    classifier_activation=None,
    name=None,
):
    """Build `variant` (a key of `APPLICATIONS`).

    Args:
        variant: The registered name.
        num_classes: Number of classes.
        input_shape: `(height, width, channels)`, at least 32x32 (3 channels
            for the ImageNet weights).
        include_top: Whether to add `top_dropout` and `predictions`.
        pooling: `"avg"` (default) or `"max"`: the backbone's global pooling
            (its output is the feature vector); `"flatten"`: its feature map,
            flattened; None: the feature map (with the top: flattened).
        width: MobileNetV3's `alpha` (1.0 = the paper; its ImageNet weights
            need 1.0).
        dropout: Dropout rate before `predictions`.
        include_preprocessing: Prepend the family's input convention (the
            model takes RGB pixels in [0, 255]); False: the model takes
            inputs normalised outside.
        classifier_activation: None returns logits.
        name: Model name (default: `variant`).

    Returns:
        A `keras.Model`.
    """
    spec = APPLICATIONS[variant]
    input_shape = heads.validate_common(
        num_classes, input_shape, include_top, pooling, width)
    heads.check_min_size(variant, input_shape, MIN_SIZE)
    inputs = keras.Input(shape=input_shape, name="images")
    kind = spec.preprocessing if include_preprocessing else None
    x = heads.preprocess(inputs, kind, input_shape[-1])
    x = _backbone(spec, input_shape, pooling, width)(x)
    if pooling == "flatten" or (pooling is None and include_top):
        x = keras.layers.Flatten(name="flatten")(x)
    if include_top:
        if dropout:
            x = Dropout(dropout, name="top_dropout")(x)
        x = heads.logits_layer(num_classes, classifier_activation)(x)
    return keras.Model(inputs, x, name=name or variant)


def _backbone(spec, input_shape, pooling, width):
    """The `keras.applications` network, without top, its own
    preprocessing and weights, named `backbone`."""
    constructor = getattr(keras.applications, spec.constructor)
    kwargs = dict(include_top=False, weights=None, input_shape=input_shape,
                  pooling=pooling if pooling in ("avg", "max") else None)
    if "include_preprocessing" in inspect.signature(constructor).parameters:
        kwargs["include_preprocessing"] = False
    if spec.width:
        kwargs["alpha"] = width
    # Built under its own name (EfficientNetV2 looks its blocks up by it),
    # ConvNeXt's grouped convolutions as the equal depthwise ones (6x its
    # speed on a CPU, see `depthwise`), then one network named `backbone`.
    network = plain_depthwise(constructor(**kwargs))
    return keras.Model(network.input, network.output, name=BACKBONE)


def call_of(layer):
    """`(inputs, output)`: the tensors `layer` takes and gives in the model
    it is a layer of. For a nested model (an applications `backbone`)
    those of its call: its own `.input`/`.output` are its inner graph's,
    not connected to the outer model (Keras keeps the call on the model's
    last inbound node, and has no public name for it; kzoo's models call a
    nested model once)."""
    if isinstance(layer, keras.Model):
        node = layer._inbound_nodes[-1]
        return list(node.input_tensors), node.output_tensors[0]
    inputs = layer.input
    return list(inputs if isinstance(inputs, (list, tuple)) else [inputs]), \
        layer.output


def output_of(layer):
    """The tensor `layer` gives in the model it is a layer of (`call_of`)."""
    return call_of(layer)[1]


def _register(variant, title):
    """Register `variant` as a builder taking the options of its family."""
    spec = APPLICATIONS[variant]
    options = {k: v for k, v in OPTIONS.items() if k != "width" or spec.width}

    def builder(num_classes=1000, input_shape=DEFAULT_INPUT_SHAPE, **kwargs):
        get_model_entry(variant).check_options(kwargs)
        return _application(variant, num_classes, input_shape, **kwargs)

    builder.__name__ = builder.__qualname__ = variant
    builder.__doc__ = (
        f"{title} (`keras.applications.{spec.constructor}`) under kzoo's "
        "head; see `kzoo.models.applications` and `_application` for the "
        f"options: {list(options)}.")
    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    builder.__signature__ = inspect.Signature(
        [inspect.Parameter("num_classes", keyword, default=1000),
         inspect.Parameter("input_shape", keyword, default=DEFAULT_INPUT_SHAPE)]
        + [inspect.Parameter(k, keyword, default=v) for k, v in options.items()])
    return register_model(
        default_input_shape=DEFAULT_INPUT_SHAPE,
        family=spec.family,
        options=options,
        noise=spec.noise,
        feature_layers=FEATURE_LAYERS,
        tunable=("width", "dropout") if spec.width else ("dropout",),
    )(builder)


mobilenet_v3_small = _register("mobilenet_v3_small", "MobileNetV3-Small")
mobilenet_v3_large = _register("mobilenet_v3_large", "MobileNetV3-Large")
efficientnet_v2_b0 = _register("efficientnet_v2_b0", "EfficientNetV2-B0")
resnet50_v2 = _register("resnet50_v2", "ResNet50V2 (pre-activation ResNet-50)")
convnext_tiny = _register("convnext_tiny", "ConvNeXt-Tiny")
