"""Pretrained weights: the ImageNet files of `keras.applications`, cached as
Keras caches them, and a model's initial weights for a run.

`create_model("vgg16", weights="imagenet")` builds VGG-16 with the
`keras.applications.VGG16` ImageNet weights and the input convention they
were trained with (`preprocessing="caffe"`, inside the model: it takes RGB
pixels in [0, 255]). The file is downloaded once into the Keras cache
(`$KERAS_HOME/models`, default `~/.keras/models`), where
`keras.applications` looks too: a file either has downloaded is reused, its
hash checked, and nothing is fetched.
"""

import dataclasses
import hashlib
import os
import tempfile

import keras

from kzoo.errors import KzooError
from kzoo.layers import ReverseChannels
from kzoo.models.archive import load_keras_file
from kzoo.models.weights import (
    copy_weights,
    load_backbone_weights,
    load_keras_applications_weights,
)

IMAGENET = "imagenet"
CACHE_SUBDIR = "models"
WEIGHT_FILE_SUFFIXES = (".h5", ".hdf5")


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One downloadable weights file.

    Attributes:
        fname: Its name in the cache (`keras.utils.get_file`'s `fname`).
        origin: Its URL.
        file_hash: Its md5 (32 hex digits) or sha256 (64) hash.
    """

    fname: str
    origin: str
    file_hash: str


# (model, include_top) -> the file `keras.applications` loads for
# weights="imagenet": the same names, URLs and hashes as
# keras/src/applications/vgg16.py and vgg19.py (tests/models/test_pretrained.py
# checks them against the installed Keras).
PRETRAINED = {
    ("vgg16", True): WeightsFile(
        "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/"
        "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "64373286793e3c8b2b4e3219cbf3544b",
    ),
    ("vgg16", False): WeightsFile(
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/"
        "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
    ("vgg19", True): WeightsFile(
        "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/"
        "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        "cbe5617147190e668d6c5d5026f83318",
    ),
    ("vgg19", False): WeightsFile(
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/"
        "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "253f8cb515780f3b799900260a226db6",
    ),
}
# What the ImageNet classifier (the with-top file) was trained for.
IMAGENET_CLASSES = 1000
IMAGENET_INPUT_SHAPE = (224, 224, 3)
# The options the ImageNet files need, beyond the defaults.
IMAGENET_OPTIONS = {"preprocessing": "caffe"}


def pretrained_models():
    """Sorted names of the models with ImageNet weights."""
    return sorted({name for name, _ in PRETRAINED})


def imagenet_options(name, options):
    """The options the ImageNet weights of `name` need, checked against the
    options given.

    Args:
        name: A registered model name.
        options: The options given (`create_model`'s kwargs).

    Returns:
        `IMAGENET_OPTIONS` (`{"preprocessing": "caffe"}`).

    Raises:
        KzooError: `name` has no ImageNet weights (the message lists the
            models that have), or an option conflicts with them.
    """
    if name not in pretrained_models():
        raise KzooError(
            f"Model '{name}' has no ImageNet weights; models with "
            f"weights='imagenet': {pretrained_models()} (weights=PATH loads "
            f"a file into any model). Received: name={name!r}, weights='imagenet'"
        )
    for option, value in IMAGENET_OPTIONS.items():
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
    return dict(IMAGENET_OPTIONS)


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


def cache_dir():
    """The Keras cache folder: `$KERAS_HOME` (read now), else `~/.keras`;
    `/tmp/.keras` when that is not writable, as `keras.utils.get_file`
    does."""
    root = os.path.expanduser(
        os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    try:
        os.makedirs(root, exist_ok=True)
    except OSError:
        pass
    if not os.access(root, os.W_OK):
        tmp = "/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir()
        root = os.path.join(tmp, ".keras")
    return root


def hash_file(path, algorithm="md5"):
    """The hex `"md5"` or `"sha256"` hash of the file at `path`."""
    hasher = hashlib.sha256() if algorithm == "sha256" else hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def check_file_hash(path, file):
    """Raise unless the file at `path` has `file.file_hash`.

    Raises:
        KzooError: Naming the file, both hashes and the fix.
    """
    algorithm = "sha256" if len(file.file_hash) == 64 else "md5"
    actual = hash_file(path, algorithm)
    if actual != file.file_hash:
        raise KzooError(
            f"The weights file {path} is corrupt or incomplete: its {algorithm} "
            f"hash is {actual}, expected {file.file_hash}. Delete it to "
            f"download it again from {file.origin} (or put a good copy "
            f"there). Received: path={path!r}"
        )


def weights_file(name, include_top=True):
    """The `WeightsFile` of the ImageNet weights of `name`.

    Raises:
        KzooError: `name` has no ImageNet weights.
    """
    if (name, bool(include_top)) not in PRETRAINED:
        imagenet_options(name, {})  # raises, listing the models that have
    return PRETRAINED[(name, bool(include_top))]


def imagenet_weights_path(name, include_top=True):
    """The local path of the ImageNet weights of `name`, downloaded if needed.

    A file in the Keras cache (`cache_dir()/models`, where
    `keras.applications` puts it) is used after its hash is checked: a
    corrupt cached file is an error, never a silent download. Otherwise it
    is fetched with `keras.utils.get_file` into that cache.

    Args:
        name: `"vgg16"` or `"vgg19"` (`pretrained_models()`).
        include_top: The file with the ImageNet classifier, or without.

    Returns:
        The file's path.

    Raises:
        KzooError: No such weights, a hash mismatch, or a failed download.
    """
    file = weights_file(name, include_top)
    root = cache_dir()
    path = os.path.join(root, CACHE_SUBDIR, file.fname)
    if os.path.exists(path):
        check_file_hash(path, file)
        return path
    try:
        return keras.utils.get_file(
            file.fname, file.origin, cache_subdir=CACHE_SUBDIR,
            file_hash=file.file_hash, cache_dir=root,
        )
    except Exception as err:
        if os.path.exists(path):
            check_file_hash(path, file)
        raise KzooError(
            f"Could not download the ImageNet weights of {name} from "
            f"{file.origin}: {err}. Without network, copy the file to {path}. "
            f"Received: name={name!r}, include_top={include_top}"
        ) from err


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
        The built `keras.Model` with the weights loaded (every layer).

    Raises:
        KzooError: Weights that do not fit (see `imagenet_options`,
            `check_imagenet_top`, `load_weights_from`).
    """
    if weights != IMAGENET:
        model = entry.builder(num_classes=num_classes, input_shape=input_shape,
                              **options)
        load_weights_from(model, weights)
        return model
    options = {**options, **imagenet_options(entry.name, options)}
    include_top = options.get("include_top", entry.options.get("include_top"))
    if include_top:
        check_imagenet_top(entry.name, num_classes, input_shape,
                           options.get("pooling"))
    model = entry.builder(num_classes=num_classes, input_shape=input_shape,
                          **options)
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
        copy_weights(model, _trained_model(weights))


def initial_weights(model, weights, name=None):
    """Start a built model from `weights`: what a run's `--weights` does.

    Args:
        model: A kzoo model (any classes, input size and top).
        weights: None (the model as built), `"imagenet"` (the convolutions
            from the no-top ImageNet file of `name`; the model must have
            been built with `preprocessing="caffe"`, see `imagenet_options`),
            a `keras.applications` `.h5`/`.weights.h5` file (its
            convolutions: `load_backbone_weights`), or a trained model of
            the same architecture (a `.keras` file or a `keras.Model`:
            every layer, `copy_weights`; a run folder or SavedModel loads
            with `kzoo.training.load_model_source`).
        name: The registered model name (default: `model.name`).

    Returns:
        `model`, loaded.

    Raises:
        KzooError: Nothing usable at `weights`, missing layers or different
            shapes, or ImageNet weights for a model without caffe
            preprocessing.

    Example:
        >>> model = create_model("vgg16", num_classes=10,
        ...                      input_shape=(32, 32, 3), preprocessing="caffe")
        >>> initial_weights(model, "imagenet")  # convolutions; head random
    """
    if weights is None:
        return model
    if weights == IMAGENET:
        name = name or model.name
        path = imagenet_weights_path(name, include_top=False)
        _check_caffe(model)
        load_backbone_weights(model, path)
    elif _is_weights_file(weights):
        load_backbone_weights(model, weights)
    else:
        copy_weights(model, _trained_model(weights))
    return model


def _check_caffe(model):
    layers = {layer.name: layer for layer in model.layers}
    if not isinstance(layers.get("preprocessing"), ReverseChannels):
        raise KzooError(
            "ImageNet weights need the caffe input convention in the model: "
            "build it with preprocessing='caffe'. "
            f"Received: model={model.name!r}"
        )


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
