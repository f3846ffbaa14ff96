"""Small but complete configurations of the registered models."""

import numpy as np

from kzoo.models import create_model

SMALL = {
    "lenet5": dict(input_shape=(16, 16, 1)),
    "perceptron": dict(input_shape=(8, 8, 1)),
    "alexnet": dict(input_shape=(67, 67, 3), width=1 / 16),
    # The keras.applications backbones at their smallest size (32 px);
    # only MobileNetV3 has a width multiplier.
    "mobilenet_v3_small": dict(input_shape=(32, 32, 3), width=0.25),
    "mobilenet_v3_large": dict(input_shape=(32, 32, 3), width=0.25),
    "efficientnet_v2_b0": dict(input_shape=(32, 32, 3)),
    "resnet50_v2": dict(input_shape=(32, 32, 3)),
    "convnext_tiny": dict(input_shape=(32, 32, 3)),
}
VGG_SMALL = dict(input_shape=(32, 32, 3), width=1 / 16)


def small_kwargs(name):
    """Keyword arguments building `name` small (a few filters, 8-67 px)."""
    return dict(SMALL.get(name, VGG_SMALL))


def small_model(name, /, num_classes=3, **kwargs):
    kwargs = {**small_kwargs(name), **kwargs}
    return create_model(name, num_classes=num_classes, **kwargs)


def images_for(model, n=4, seed=0):
    shape = (n,) + tuple(model.input_shape[1:])
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


def assert_close_to_scale(got, want, atol=1e-4):
    """`got` within `atol` of `want`'s largest magnitude (and rtol 1e-4)."""
    got, want = np.asarray(got), np.asarray(want)
    scale = float(np.max(np.abs(want)))
    assert scale > 0
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=atol * scale)


def write_applications_file(model, path):
    """`model`'s weights as a weights-only legacy HDF5 file, the layout of the
    `keras.applications` ImageNet files (a group per layer, by name, with
    `weight_names`; `layer_names` on the root), written by Keras's own
    legacy writer. Returns `path` as a string."""
    import os
    import tempfile

    import h5py

    with tempfile.TemporaryDirectory() as tmp:
        full = os.path.join(tmp, "full.h5")
        model.save(full)  # legacy HDF5 full-model file
        with h5py.File(full, "r") as src, h5py.File(path, "w") as dst:
            weights = src["model_weights"]
            for key in weights:
                src.copy(weights[key], dst, name=key)
            for key, value in weights.attrs.items():
                dst.attrs[key] = value
    return str(path)


def _no_download(*args, **kwargs):
    raise AssertionError(f"a download was attempted: {args} {kwargs}")


def offline_keras_cache(monkeypatch, home):
    """Point the Keras cache (KERAS_HOME) at `home` and make every download
    fail the test: `keras.utils.get_file`, `urlretrieve`, sockets."""
    import socket
    import urllib.request

    import keras

    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setattr(keras.utils, "get_file", _no_download)
    monkeypatch.setattr(urllib.request, "urlretrieve", _no_download)
    monkeypatch.setattr(socket.socket, "connect", _no_download)


def cache_fake_file(monkeypatch, home, name, include_top, source):
    """Put `source` into the Keras cache at `home` as the ImageNet file of
    `(name, include_top)`, its hash patched into `kzoo.models.PRETRAINED`.
    Returns the cached path."""
    import os
    import shutil

    from kzoo.models import pretrained

    real = pretrained.PRETRAINED[(name, include_top)]
    monkeypatch.setitem(pretrained.PRETRAINED, (name, include_top),
                        pretrained.WeightsFile(real.fname, real.origin,
                                               pretrained.hash_file(source)))
    path = os.path.join(str(home), "models", real.fname)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    shutil.copyfile(source, path)
    return path


def offline_mobilenet_v3_small(monkeypatch, tmp_path, size, seed=4):
    """A random no-top MobileNetV3-Small (`size` px, average pooled) cached
    offline as its ImageNet file (`offline_keras_cache`, `cache_fake_file`):
    `--weights imagenet` / `--embedding imagenet` load it, nothing downloads.
    Returns the reference network."""
    import keras

    keras.utils.set_random_seed(seed)
    reference = keras.applications.MobileNetV3Small(
        weights=None, include_top=False, input_shape=(size, size, 3), pooling="avg")
    source = write_applications_file(reference, tmp_path / "mnv3s.h5")
    home = tmp_path / "keras_home"
    offline_keras_cache(monkeypatch, home)
    cache_fake_file(monkeypatch, home, "mobilenet_v3_small", False, source)
    return reference
