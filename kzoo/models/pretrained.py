"""Pretrained weights: the ImageNet files of `keras.applications` (see
`kzoo.models.imagenet_files` for the table and the cache), and a model's
initial weights for a run.

`create_model("vgg16", weights="imagenet")` builds VGG-16 with the
`keras.applications.VGG16` ImageNet weights and the input convention they
were trained with (`preprocessing="caffe"`, inside the model: it takes RGB
pixels in [0, 255]). The models of `kzoo.models.applications`
(`mobilenet_v3_small`, `convnext_tiny`, ...) have their family's convention
inside by default, and load their backbone from its no-top file, in the
order Keras itself loads it; their classifier is new. The file is
downloaded once into the Keras cache, where `keras.applications` looks
too: a file either has downloaded is reused, its hash checked, and nothing
is fetched.
"""

import os

import keras

from kzoo.errors import KzooError
from kzoo.layers import ReverseChannels
from kzoo.models import heads
from kzoo.models.applications import APPLICATIONS
from kzoo.models.archive import load_keras_file
from kzoo.models.imagenet_files import (  # noqa: F401 (kzoo.models.pretrained.X)
    CACHE_SUBDIR,
    PRETRAINED,
    WeightsFile,
    cache_dir,
    check_file_hash,
    hash_file,
    imagenet_weights_path,
    pretrained_models,
    weights_file,
)
from kzoo.models.weights import (
    copy_weights,
    load_application_backbone,
    load_backbone_weights,
    load_keras_applications_weights,
)

IMAGENET = "imagenet"
WEIGHT_FILE_SUFFIXES = (".h5", ".hdf5")


# What the ImageNet classifier (the with-top file) was trained for.
IMAGENET_CLASSES = 1000
IMAGENET_INPUT_SHAPE = (224, 224, 3)
# The options the ImageNet files of VGG need, beyond the defaults (the
# applications' defaults are already their files' convention).
IMAGENET_OPTIONS = {"preprocessing": "caffe"}


def imagenet_options(name, options):
    """The options the ImageNet weights of `name` need, checked against the
    options given.

    Args:
        name: A registered model name.
        options: The options given (`create_model`'s kwargs).

    Returns:
        `IMAGENET_OPTIONS` (`{"preprocessing": "caffe"}`) for VGG, `{}` for
        the applications (their default is their files' convention).

    Raises:
        KzooError: `name` has no ImageNet weights (the message lists the
            models that have), or an option conflicts with them.
    """
    weights_file(name, include_top=False)  # raises, listing the models that have
    needed = {} if name in APPLICATIONS else dict(IMAGENET_OPTIONS)
    for option, value in needed.items():
        if options.get(option, value) != value:
            raise KzooError(
                f"The ImageNet weights of {name} need {option}={value!r} (the "
                "keras.applications input convention; weights='imagenet' sets "
                f"it). Received: {option}={options[option]!r}"
            )
    checks = {"width": 1.0, "include_preprocessing": True}
    for option, value in checks.items():
        if options.get(option, value) != value:
            raise KzooError(
                f"The ImageNet weights of {name} need {option}={value!r}. "
                f"Received: {option}={options[option]!r}"
            )
    return needed


def imagenet_convention(name):
    """The input convention of `name`'s ImageNet file: `"caffe"` (VGG),
    `"tf"` or `"torch"` (`heads.preprocess` kinds)."""
    return APPLICATIONS[name].preprocessing if name in APPLICATIONS else "caffe"


def check_imagenet_top(name, num_classes, input_shape, pooling=None):
    """Raise unless the ImageNet classifier fits: 1000 classes at 224x224x3,
    flattened (fc1 takes block5's 7x7x512 map).

    Raises:
        KzooError: Suggesting `include_top=False` or `initial_weights`.
    """
    if (num_classes == IMAGENET_CLASSES
            and tuple(input_shape) == IMAGENET_INPUT_SHAPE
            and pooling in (None, "flatten")):
        return
    raise KzooError(
        f"The ImageNet classifier of {name} (include_top=True) is for "
        f"{IMAGENET_CLASSES} classes at {IMAGENET_INPUT_SHAPE} with "
        "pooling=None. For other classes or sizes use include_top=False "
        "(the convolutions, any size) or build the model and call "
        "kzoo.models.initial_weights(model, 'imagenet') (convolutions loaded, "
        f"new classifier). Received: num_classes={num_classes}, "
        f"input_shape={tuple(input_shape)}, pooling={pooling!r}"
    )


def create_pretrained(entry, num_classes, input_shape, weights, options):
    """Build `entry`'s model with `weights` (see `create_model`).

    Args:
        entry: The `ModelEntry`.
        num_classes: Number of classes.
        input_shape: `(height, width, channels)`.
        weights: `"imagenet"` or a path: a `keras.applications` `.h5`/
            `.weights.h5` file, or a trained model (a `.keras` file or a
            `keras.Model`).
        options: The builder's options.

    Returns:
        The built `keras.Model` with the weights loaded (every layer; for
        the applications, every layer of the backbone).

    Raises:
        KzooError: Weights that do not fit (see `imagenet_options`,
            `check_imagenet_top`, `load_weights_from`).
    """
    if weights != IMAGENET:
        model = entry.builder(num_classes=num_classes, input_shape=input_shape,
                              **options)
        if entry.name in APPLICATIONS and _is_weights_file(weights):
            load_application_backbone(model, weights)
        else:
            load_weights_from(model, weights)
        return model
    options = {**options, **imagenet_options(entry.name, options)}
    _check_rgb(entry.name, input_shape[-1])
    include_top = options.get("include_top", entry.options.get("include_top"))
    if include_top and entry.name not in APPLICATIONS:
        check_imagenet_top(entry.name, num_classes, input_shape,
                           options.get("pooling"))
    model = entry.builder(num_classes=num_classes, input_shape=input_shape,
                          **options)
    if entry.name in APPLICATIONS:  # the backbone; the classifier is new
        load_application_backbone(
            model, imagenet_weights_path(entry.name, include_top=False))
    else:
        path = imagenet_weights_path(entry.name, include_top=include_top)
        load_keras_applications_weights(model, path)
    return model


def load_weights_from(model, weights):
    """Load every weighted layer of `model` from `weights`, a path.

    Args:
        model: A `keras.Model`.
        weights: A `keras.applications` `.h5`/`.weights.h5` file (layer by
            layer, see `load_keras_applications_weights`), or a trained
            model of the same architecture: a `.keras` file or a
            `keras.Model` (`copy_weights`).

    Raises:
        KzooError: Nothing usable at `weights`, or a layer that does not fit.
    """
    if _is_weights_file(weights):
        load_keras_applications_weights(model, weights)
    else:
        source = _trained_model(weights)
        copy_weights(model, source, layers=_encoder_layers(model, source))


def initial_weights(model, weights, name=None):
    """Start a built model from `weights`: what a run's `--weights` does.

    Args:
        model: A kzoo model (any classes, input size and top).
        weights: None (the model as built), `"imagenet"` (the convolutions
            from the no-top ImageNet file of `name`; the model must have
            been built with its file's input convention: for VGG
            `preprocessing="caffe"`, see `imagenet_options`; RGB images),
            a `keras.applications` `.h5`/`.weights.h5` file (its
            convolutions: `load_backbone_weights`), or a trained model of
            the same architecture (a `.keras` file or a `keras.Model`:
            every layer, `copy_weights`; a run folder or SavedModel loads
            with `kzoo.training.load_model_source`).
        name: The registered model name (default: `model.name`); for the
            applications, a weights file loads into the backbone in Keras's
            order (`load_application_backbone`).

    Returns:
        `model`, loaded.

    Raises:
        KzooError: Nothing usable at `weights`, missing layers or different
            shapes, or ImageNet weights for a model without its file's
            input convention or RGB input.

    Example:
        >>> model = create_model("vgg16", num_classes=10,
        ...                      input_shape=(32, 32, 3), preprocessing="caffe")
        >>> initial_weights(model, "imagenet")  # convolutions; head random
    """
    if weights is None:
        return model
    name = name or model.name
    if weights == IMAGENET:
        weights_file(name, include_top=False)  # a model without: says so
        _check_convention(model, name)
        _check_rgb(name, model.input_shape[-1])
        weights = imagenet_weights_path(name, include_top=False)
    if _is_weights_file(weights):
        if name in APPLICATIONS:
            load_application_backbone(model, weights)
        else:
            load_backbone_weights(model, weights)
    else:
        source = _trained_model(weights)
        copy_weights(model, source, layers=_encoder_layers(model, source))
    return model


def _check_convention(model, name):
    """Raise unless `model` begins with the input convention of `name`'s
    ImageNet file (a layer named `preprocessing` of its kind)."""
    kind = imagenet_convention(name)
    expected = (ReverseChannels if kind == "caffe"
                else type(heads.preprocessing_layer(kind, 3)))
    layers = {layer.name: layer for layer in model.layers}
    if not isinstance(layers.get("preprocessing"), expected):
        how = ("preprocessing='caffe'" if kind == "caffe"
               else "include_preprocessing=True")
        raise KzooError(
            f"The ImageNet weights of {name} need the {kind} input convention "
            f"in the model: build it with {how}. Received: model={model.name!r}"
        )


def _check_rgb(name, channels):
    if channels != 3:
        raise KzooError(
            f"The ImageNet weights of {name} take RGB images (3 channels). "
            f"Received: channels={channels}")


def _is_weights_file(path):
    return isinstance(path, (str, os.PathLike)) and os.path.isfile(path) and (
        os.fspath(path).endswith(WEIGHT_FILE_SUFFIXES))


def _trained_model(weights):
    """A trained model to copy from: `weights` itself, or its `.keras` file.

    A run folder or SavedModel is resolved above this layer
    (`kzoo.training.load_model_source`, as `kzoo train --weights` does).
    """
    if isinstance(weights, keras.Model):
        return weights
    path = os.fspath(weights) if isinstance(weights, (str, os.PathLike)) else None
    if path and os.path.isfile(path) and path.endswith(".keras"):
        return load_keras_file(path)  # checked before Keras reads it
    raise KzooError(
        "`weights` must be 'imagenet', a .h5/.weights.h5 file of "
        "keras.applications, a .keras file or a keras.Model (for a kzoo run "
        "folder or SavedModel: kzoo.training.load_model_source(path)). "
        f"Received: weights={weights!r}"
    )


def _encoder_layers(model, source):
    """The layers to copy from `source`: all (None), or every weighted
    layer but `predictions` when `source` is an encoder without one (a
    `kzoo pretrain` run: the classifier for the new classes starts
    random)."""
    if any(layer.name == "predictions" for layer in source.layers):
        return None
    return [layer.name for layer in model.layers
            if layer.weights and layer.name != "predictions"]
