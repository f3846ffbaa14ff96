"""`--weights` on `kzoo train` and `kzoo transfer`, offline: the ImageNet
file is a keras.applications VGG-16 with random weights in a temporary
Keras cache (see tests/models/test_pretrained.py); downloads fail the test."""

import os
import re

import keras
import numpy as np
import pytest

from kzoo import run
from kzoo.errors import KzooError
from kzoo.layers import ReverseChannels
from kzoo.run import inputs
from tests.models.helpers import (
    cache_fake_file,
    offline_keras_cache,
    offline_mobilenet_v3_small,
    write_applications_file,
)
from tests.run.helpers import (
    SMOKE,
    SMOKE_FLAGS,
    flags,
    kzoo,
    one_error_line,
    saved_lenet,
    smoke_dir,
    weights_of,
)

VGG = dict(model="vgg16", input_size=32, channels=3)


@pytest.fixture(scope="module")
def notop(tmp_path_factory):
    """A no-top VGG-16 (random weights) and its file in the ImageNet layout."""
    keras.utils.set_random_seed(3)
    model = keras.applications.VGG16(weights=None, include_top=False,
                                     input_shape=(32, 32, 3))
    path = tmp_path_factory.mktemp("notop") / "vgg16_notop.h5"
    return model, write_applications_file(model, path)


@pytest.fixture
def imagenet(tmp_path, monkeypatch, notop):
    """The fake VGG-16 no-top file cached as ImageNet's; returns its path."""
    home = tmp_path / "keras_home"
    offline_keras_cache(monkeypatch, home)
    return cache_fake_file(monkeypatch, home, "vgg16", False, notop[1])


def _assert_convolutions_equal(reference, model, atol=0.0):
    layers = [layer for layer in reference.layers if layer.weights]
    assert len(layers) == 13
    for layer in layers:
        for a, b in zip(layer.get_weights(), model.get_layer(layer.name).get_weights()):
            np.testing.assert_allclose(b, a, rtol=0, atol=atol)


def test_build_model_with_imagenet_loads_convolutions_and_a_new_head(
        folder, imagenet, notop, capsys):
    config = run.configure("train", data=folder, weights="imagenet", **VGG)
    data = inputs.load_training_data(config, 32)
    model = inputs.build_model(config, data, weights=config.weights)
    assert isinstance(model.get_layer("preprocessing"), ReverseChannels)
    assert model.output_shape == (None, 3)
    _assert_convolutions_equal(notop[0], model)
    printed = capsys.readouterr().out
    assert ("weights: ImageNet (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5; "
            "caffe preprocessing in the model): 13 layers loaded "
            "(block1_conv1 ... block5_conv3)") in printed


@pytest.mark.large  # 15-20 s: VGG-16's 4096-wide head, its backup and model.keras
def test_train_weights_imagenet_end_to_end(folder, imagenet, notop, tmp_path, capsys):
    out = str(tmp_path / "run")
    code, printed, err = kzoo(capsys, "train", "--data", folder, "--model", "vgg16",
                              "--weights", "imagenet", "--input-size", 32,
                              "--channels", 3, "--lr", 1e-12, "--batch-size", 4,
                              "--out", out, *SMOKE_FLAGS)  # SMOKE_FLAGS: --export keras
    assert code == 0, err
    assert "weights: ImageNet" in printed
    trained = keras.models.load_model(os.path.join(smoke_dir(out), "model.keras"))
    assert isinstance(trained.get_layer("preprocessing"), ReverseChannels)
    _assert_convolutions_equal(notop[0], trained, atol=1e-6)  # lr 1e-12: as loaded


@pytest.mark.parametrize("argv,match", [
    (["--model", "vgg16", "--input-size", 32], "add --channels 3"),
    (["--channels", 3], r"'lenet5' has no ImageNet weights; models with "
                        r"weights='imagenet': \['convnext_tiny', .*'vgg16', 'vgg19'\]"),
    (["--model", "vgg16", "--input-size", 32, "--channels", 3, "--width", 0.25],
     r"need width=1\.0\. Received: width=0\.25"),
])
def test_train_weights_imagenet_errors_write_nothing(argv, match, imagenet,
                                                     tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = kzoo(capsys, "train", "--weights", "imagenet", *argv,
                        "--out", out, *SMOKE_FLAGS)
    assert code == 2
    assert re.search(match, one_error_line(err))
    assert not out.exists()


def test_corrupt_cached_imagenet_file_is_one_error_line(imagenet, tmp_path, capsys):
    with open(imagenet, "r+b") as f:
        f.seek(4096)
        f.write(b"bad bytes")
    out = tmp_path / "run"
    code, _, err = kzoo(capsys, "train", "--weights", "imagenet", "--out", out,
                        *flags(**VGG), *SMOKE_FLAGS)
    assert code == 2
    line = one_error_line(err)
    assert imagenet in line and "Delete it to download it again" in line
    assert not out.exists()


@pytest.mark.large
def test_train_weights_run_dir_starts_from_that_run(folder, tmp_path):
    """A run folder (its model.keras) of the same model: every layer."""
    first = tmp_path / "first"
    first.mkdir()
    saved_lenet(first / "model.keras", 3)  # what a run leaves in its folder
    second = run.run("train", data=folder, input_size=32, channels=1,
                     weights=str(first), lr=1e-12, out=str(tmp_path / "second"),
                     **SMOKE)
    for a, b in zip(weights_of(str(first)), weights_of(second.out)):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)


@pytest.mark.large
@pytest.mark.parametrize("command, trained", [
    ("pseudo-label", ""), ("noisy-student", "round0")])
def test_semi_supervised_runs_start_their_teacher_from_weights(
        command, trained, folder, tmp_path):
    """--weights is the model's start in pseudo-label, and the round-0
    teacher's in noisy-student (students start afresh, as in the paper)."""
    first = tmp_path / "first"
    first.mkdir()
    saved_lenet(first / "model.keras", 3)
    extra = dict(rounds=1) if command == "noisy-student" else {}
    result = run.run(command, data=folder, input_size=32, channels=1,
                     weights=str(first), lr=1e-12, out=str(tmp_path / "second"),
                     **extra, **SMOKE)
    for a, b in zip(weights_of(str(first)),
                    weights_of(os.path.join(result.out, trained))):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)


def test_train_weights_of_other_classes_suggests_transfer(folder, tmp_path):
    source = saved_lenet(tmp_path / "ab.keras", 2)
    with pytest.raises(KzooError, match="kzoo transfer --source.*'predictions'"):
        run.run("train", data=folder, input_size=32, channels=1, weights=source,
                out=str(tmp_path / "abc"), **SMOKE)
    assert not (tmp_path / "abc").exists()


@pytest.mark.large
def test_transfer_from_vgg16_with_imagenet_weights(folder, imagenet, notop,
                                                   tmp_path, capsys):
    result = run.run("transfer", source="vgg16", weights="imagenet", data=folder,
                     input_size=32, mode="head",  # SMOKE exports keras
                     out=str(tmp_path / "transfer"), **SMOKE)
    backbone = result.model.get_layer("backbone")
    assert isinstance(backbone.get_layer("preprocessing"), ReverseChannels)
    _assert_convolutions_equal(notop[0], backbone)  # frozen in head mode
    assert result.model.output_shape == (None, 3)
    assert "source: vgg16 with --weights imagenet; 32x32x3 images" in (
        capsys.readouterr().out)


@pytest.mark.parametrize("values,match", [
    (dict(source="vgg16"), "--source vgg16 is a model name: give its weights "
                           "with --weights"),
    (dict(source="PATH", weights="imagenet"), "--weights goes with a registered "
                                              "model name as --source"),
])
def test_transfer_source_and_weights_go_together(values, match, tmp_path):
    if values["source"] == "PATH":
        values["source"] = saved_lenet(tmp_path / "source.keras", 5)
    out = tmp_path / "transfer"
    with pytest.raises(KzooError, match=match):
        run.run("transfer", out=str(out), **values, **SMOKE)
    assert not out.exists()


# A MobileNetV3 transfer run end to end; the default tier trains the
# cached-feature head in tests/run/test_transfer.py.
@pytest.mark.large
def test_transfer_from_an_imagenet_mobilenet_trains_a_head_on_its_features(
        tmp_path, monkeypatch, capsys):
    """`kzoo transfer --source mobilenet_v3_small --weights imagenet`: the
    backbone from the cached no-top file (Keras's own order), globally
    pooled, its features computed once; the export is backbone + head."""
    reference = offline_mobilenet_v3_small(monkeypatch, tmp_path, 32)
    code, out, err = kzoo(capsys, "transfer", "--source", "mobilenet_v3_small",
                          "--weights", "imagenet", "--input-size", 32,
                          "--classes", "0,1,2", *SMOKE_FLAGS,
                          "--out", tmp_path / "run")
    assert code == 0, err
    assert ("weights: ImageNet (weights_mobilenet_v3_small_224_1.0_float_no_top_"
            "v2.h5; tf preprocessing in the model): 86 layers loaded (conv ... "
            "conv_1_bn)") in out
    assert "features: " in out and "values each" in out
    model = keras.models.load_model(os.path.join(smoke_dir(str(tmp_path / "run")),
                                                 "head", "model.keras"))
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    features = keras.Model(model.input, model.get_layer("predictions").input)
    np.testing.assert_allclose(features(x), reference(x), rtol=1e-4,
                               atol=1e-4 * float(np.max(np.abs(reference(x)))))
