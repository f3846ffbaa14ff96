"""ImageNet weights of VGG-16/19, offline: the "downloaded" files are
keras.applications models with random weights, written in the ImageNet
files' layout into a temporary Keras cache, their hashes patched into the
table. Any download attempt fails the test."""

import inspect
import os
import re
import shutil
import sys

import keras
import numpy as np
import pytest

from kzoo.errors import KzooError
from kzoo.models import create_model, initial_weights, pretrained
from tests.models.helpers import (
    assert_close_to_scale,
    cache_fake_file,
    offline_keras_cache,
    write_applications_file,
)

SHAPE = (32, 32, 3)
APPLICATIONS = {"vgg16": keras.applications.VGG16, "vgg19": keras.applications.VGG19}


def _applications(name, include_top):
    keras.utils.set_random_seed(1)
    top = dict(classes=10, classifier_activation=None) if include_top else {}
    return APPLICATIONS[name](weights=None, include_top=include_top,
                              input_shape=SHAPE, **top)


@pytest.fixture(scope="module")
def fake_files(tmp_path_factory):
    """(name, include_top) -> a fake ImageNet file, made on first use."""
    root = tmp_path_factory.mktemp("applications")
    made = {}

    def make(name, include_top=False):
        key = (name, include_top)
        if key not in made:
            made[key] = write_applications_file(
                _applications(name, include_top),
                root / f"{name}_{include_top}.h5")
        return made[key]

    return make


@pytest.fixture
def cache(tmp_path, monkeypatch, fake_files):
    """A Keras cache in tmp_path; `cache(name, include_top)` puts the fake
    file there under its real name, with its hash in the table. Nothing can
    be fetched."""
    home = tmp_path / "keras_home"
    offline_keras_cache(monkeypatch, home)

    def put(name, include_top=False):
        source = fake_files(name, include_top)
        return cache_fake_file(monkeypatch, home, name, include_top, source), source

    return put


def _images(n=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n,) + SHAPE).astype("float32")


def _assert_close(got, want):
    assert_close_to_scale(got, want, atol=1e-3)


def test_table_is_keras_applications_own():
    for name, function in APPLICATIONS.items():
        module = sys.modules[function.__module__]
        source = inspect.getsource(module)
        top, notop = pretrained.PRETRAINED[(name, True)], pretrained.PRETRAINED[
            (name, False)]
        assert top.origin == module.WEIGHTS_PATH
        assert notop.origin == module.WEIGHTS_PATH_NO_TOP
        for file in (top, notop):
            assert f'"{file.fname}"' in source and f'"{file.file_hash}"' in source
            assert file.origin.endswith("/" + file.fname)
    assert pretrained.pretrained_models() == [
        "convnext_tiny", "efficientnet_v2_b0", "mobilenet_v3_large",
        "mobilenet_v3_small", "resnet50_v2", "vgg16", "vgg19"]


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_imagenet_no_top_equals_keras_applications(name, cache):
    path, source = cache(name)
    model = create_model(name, input_shape=SHAPE, include_top=False,
                         weights="imagenet")
    assert model.get_layer("preprocessing").__class__.__name__ == "ReverseChannels"
    reference = APPLICATIONS[name](weights=source, include_top=False,
                                   input_shape=SHAPE)
    x = _images()
    want = reference(keras.applications.vgg16.preprocess_input(x.copy()))
    _assert_close(model(x), want)
    assert pretrained.imagenet_weights_path(name, include_top=False) == path


def test_imagenet_top_loads_the_top_file(cache, monkeypatch):
    """The with-top path at 32 px and 10 classes, the sizes patched where the
    table lives (the real classifier is 1000 classes at 224 px: 550 MB)."""
    _, source = cache("vgg16", include_top=True)
    monkeypatch.setattr(pretrained, "IMAGENET_CLASSES", 10)
    monkeypatch.setattr(pretrained, "IMAGENET_INPUT_SHAPE", SHAPE)
    model = create_model("vgg16", num_classes=10, input_shape=SHAPE,
                         weights="imagenet")
    reference = keras.applications.VGG16(weights=source, input_shape=SHAPE,
                                         classes=10, classifier_activation=None)
    x = _images(seed=1)
    want = reference(keras.applications.vgg16.preprocess_input(x.copy()))
    _assert_close(model(x), want)


def test_top_needs_the_imagenet_classes_and_size(cache):
    with pytest.raises(KzooError, match="include_top=False.*Received: "
                       r"num_classes=10, input_shape=\(32, 32, 3\)"):
        create_model("vgg16", num_classes=10, input_shape=SHAPE,
                     weights="imagenet")
    with pytest.raises(KzooError, match="pooling='avg'"):
        create_model("vgg19", weights="imagenet", pooling="avg")


@pytest.mark.parametrize("options,match", [
    (dict(preprocessing="mean_rgb"), "need preprocessing='caffe'.*"
                                     "Received: preprocessing='mean_rgb'"),
    (dict(preprocessing=None), "Received: preprocessing=None"),
    (dict(width=0.5), "need width=1.0. Received: width=0.5"),
    (dict(include_preprocessing=False), "Received: include_preprocessing=False"),
])
def test_conflicting_options_are_errors(options, match, cache):
    with pytest.raises(KzooError, match=match):
        create_model("vgg16", input_shape=SHAPE, include_top=False,
                     weights="imagenet", **options)


def test_models_without_imagenet_weights_are_listed():
    with pytest.raises(KzooError, match=r"'lenet5' has no ImageNet weights; "
                       r"models with weights='imagenet': \['convnext_tiny', "
                       r".*'vgg16', 'vgg19'\]"):
        create_model("lenet5", weights="imagenet")
    with pytest.raises(KzooError, match="vgg16_bn"):
        create_model("vgg16_bn", weights="imagenet", include_top=False)


def test_corrupt_cached_file_is_an_error_not_a_download(cache):
    path, _ = cache("vgg16")
    with open(path, "r+b") as f:
        f.seek(1000)
        f.write(b"corrupt")
    expected = pretrained.PRETRAINED[("vgg16", False)].file_hash
    actual = pretrained.hash_file(path)
    with pytest.raises(KzooError) as info:
        create_model("vgg16", input_shape=SHAPE, include_top=False,
                     weights="imagenet")
    message = str(info.value)
    assert path in message and expected in message and actual in message
    assert "Delete it to download it again" in message


def test_missing_file_is_fetched_once_into_the_keras_cache(cache, monkeypatch):
    path, source = cache("vgg16")
    os.remove(path)
    calls = []

    def get_file(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs))
        target = os.path.join(kwargs["cache_dir"], kwargs["cache_subdir"], fname)
        shutil.copyfile(source, target)
        return target

    monkeypatch.setattr(keras.utils, "get_file", get_file)
    file = pretrained.PRETRAINED[("vgg16", False)]
    assert pretrained.imagenet_weights_path("vgg16", include_top=False) == path
    assert pretrained.imagenet_weights_path("vgg16", include_top=False) == path
    assert calls == [(file.fname, vgg_url("vgg16_weights_tf_dim_ordering_tf_"
                                          "kernels_notop.h5"),
                      dict(cache_subdir="models", file_hash=file.file_hash,
                           cache_dir=os.environ["KERAS_HOME"]))]


def vgg_url(fname):
    return ("https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
            + fname)


def test_failed_download_says_where_to_put_the_file(cache, monkeypatch):
    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://...: None -- no network")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    target = os.path.join(os.environ["KERAS_HOME"], "models",
                          "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5")
    with pytest.raises(KzooError, match="no network. Without network, copy the "
                       "file to " + re.escape(target)):
        pretrained.imagenet_weights_path("vgg19", include_top=False)


def test_initial_weights_loads_the_convolutions_and_keeps_the_head(cache):
    _, source = cache("vgg16")
    keras.utils.set_random_seed(0)
    model = create_model("vgg16", num_classes=10, input_shape=SHAPE,
                         preprocessing="caffe")
    head = {name: model.get_layer(name).get_weights()
            for name in ("fc1", "fc2", "predictions")}
    assert initial_weights(model, "imagenet") is model
    reference = _applications("vgg16", include_top=False)
    reference.load_weights(source)
    for layer in reference.layers:
        if layer.weights:
            for a, b in zip(layer.get_weights(),
                            model.get_layer(layer.name).get_weights()):
                np.testing.assert_array_equal(a, b)
    for name, before in head.items():
        for a, b in zip(before, model.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_initial_imagenet_weights_need_caffe_preprocessing(cache):
    cache("vgg16")
    model = create_model("vgg16", input_shape=SHAPE, include_top=False)
    with pytest.raises(KzooError, match="preprocessing='caffe'"):
        initial_weights(model, "imagenet")


def test_weights_path_loads_every_layer_of_any_file(tmp_path, fake_files):
    """weights=PATH: a keras.applications file, with its classifier; the
    caffe convention is the caller's to ask for."""
    source = fake_files("vgg16", include_top=True)
    model = create_model("vgg16", num_classes=10, input_shape=SHAPE,
                         preprocessing="caffe", weights=source)
    reference = keras.applications.VGG16(weights=source, input_shape=SHAPE,
                                         classes=10, classifier_activation=None)
    x = _images(seed=2)
    want = reference(keras.applications.vgg16.preprocess_input(x.copy()))
    _assert_close(model(x), want)
    with pytest.raises(KzooError, match="predictions"):
        create_model("vgg16", num_classes=7, input_shape=SHAPE, weights=source)


def test_weights_path_of_a_trained_model(tmp_path):
    small = dict(num_classes=3, input_shape=SHAPE, width=1 / 16)
    trained = create_model("vgg11_bn", **small)
    trained.save(tmp_path / "model.keras")
    for weights in (str(tmp_path / "model.keras"), trained):  # a file, a model
        model = create_model("vgg11_bn", weights=weights, **small)
        for a, b in zip(trained.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(KzooError, match="no layer 'block1_conv2'"):
        create_model("vgg13_bn", weights=trained, **small)
    # a run folder is the run layer's to resolve (kzoo train --weights RUN)
    with pytest.raises(KzooError, match="load_model_source"):
        create_model("vgg11_bn", weights=str(tmp_path), **small)
    with pytest.raises(KzooError, match="Received: weights='nowhere'"):
        create_model("vgg11_bn", weights="nowhere", **small)
