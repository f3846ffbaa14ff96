"""The ImageNet files of `keras.applications`: where each is, its hash, and
the Keras cache that holds it once downloaded.

A file in the cache (`$KERAS_HOME/models`, default `~/.keras/models`, where
`keras.applications` puts it too) is used after its hash is checked;
otherwise it is fetched once with `keras.utils.get_file`. Offline, the error
names the file and the path to copy it to.
"""

import dataclasses
import hashlib
import os
import tempfile

import keras

from kzoo.errors import KzooError

CACHE_SUBDIR = "models"
_BASE = "https://storage.googleapis.com/tensorflow/keras-applications/"


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


def _file(folder, fname, file_hash):
    return WeightsFile(fname, f"{_BASE}{folder}/{fname}", file_hash)


# (model, include_top) -> the file `keras.applications` loads for
# weights="imagenet": the same names, URLs and hashes as its modules
# (keras/src/applications/vgg16.py, vgg19.py, mobilenet_v3.py,
# efficientnet_v2.py, resnet_v2.py via resnet.py, convnext.py;
# tests/models/test_pretrained.py checks them against the installed Keras).
# The models of `kzoo.models.applications` have their backbone's no-top file
# only (their classifier is kzoo's).
PRETRAINED = {
    ("vgg16", True): _file(
        "vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        "64373286793e3c8b2b4e3219cbf3544b"),
    ("vgg16", False): _file(
        "vgg16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc"),
    ("vgg19", True): _file(
        "vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
        "cbe5617147190e668d6c5d5026f83318"),
    ("vgg19", False): _file(
        "vgg19", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "253f8cb515780f3b799900260a226db6"),
    ("mobilenet_v3_small", False): _file(
        "mobilenet_v3", "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
        "d3e8ec802a04aa4fc771ee12a9a9b836"),
    ("mobilenet_v3_large", False): _file(
        "mobilenet_v3", "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
        "07fb09a5933dd0c8eaafa16978110389"),
    ("efficientnet_v2_b0", False): _file(
        "efficientnet_v2", "efficientnetv2-b0_notop.h5",
        "893217f2bb855e2983157299931e43ff"),
    ("resnet50_v2", False): _file(
        "resnet", "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "fac2f116257151a9d068a22e544a4917"),
    ("convnext_tiny", False): _file(
        "convnext", "convnext_tiny_notop.h5",
        "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1"),
}


def pretrained_models():
    """Sorted names of the models with ImageNet weights."""
    return sorted({name for name, _ in PRETRAINED})


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
        KzooError: `name` has no ImageNet weights, or none with its
            ImageNet classifier (`include_top=True`).
    """
    if name not in pretrained_models():
        raise KzooError(
            f"Model '{name}' has no ImageNet weights; models with "
            f"weights='imagenet': {pretrained_models()} (weights=PATH loads "
            f"a file into any model). Received: name={name!r}, weights='imagenet'"
        )
    if (name, bool(include_top)) not in PRETRAINED:
        raise KzooError(
            f"Model '{name}' has ImageNet weights without the ImageNet "
            "classifier only (its classifier is kzoo's, for your classes). "
            f"Received: name={name!r}, include_top={include_top}")
    return PRETRAINED[(name, bool(include_top))]


def imagenet_weights_path(name, include_top=True):
    """The local path of the ImageNet weights of `name`, downloaded if needed.

    A file in the Keras cache (`cache_dir()/models`, where
    `keras.applications` puts it) is used after its hash is checked: a
    corrupt cached file is an error, never a silent download. Otherwise it
    is fetched with `keras.utils.get_file` into that cache.

    Args:
        name: A model of `pretrained_models()`.
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


