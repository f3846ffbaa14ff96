import keras
import numpy as np
import pytest

from kzoo.errors import KzooError
from kzoo.models import (
    backbone_layers,
    copy_weights,
    load_backbone_weights,
    load_keras_applications_weights,
    vgg16,
    vgg19,
)
from tests.models.helpers import write_applications_file


def _compare(input_shape, classes, include_top, tmp_path, suffix):
    ref = keras.applications.VGG16(weights=None, include_top=include_top,
                                   input_shape=input_shape, classes=classes,
                                   classifier_activation=None)
    path = str(tmp_path / f"vgg16{suffix}")
    if suffix == ".weights.h5":
        ref.save_weights(path)
    else:
        ref.save(path)  # legacy HDF5 full-model file
    model = vgg16(num_classes=classes, input_shape=input_shape,
                  include_top=include_top, include_preprocessing=False)
    load_keras_applications_weights(model, path)
    x = np.random.default_rng(0).uniform(-120, 130, (2,) + input_shape)
    x = x.astype("float32")
    np.testing.assert_allclose(model(x), ref(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("suffix", [".weights.h5", ".h5"])
@pytest.mark.parametrize("include_top", [True, False])
def test_loads_keras_applications_vgg16_weights(suffix, include_top, tmp_path):
    _compare((32, 32, 3), 10, include_top, tmp_path, suffix)


@pytest.mark.large
def test_loads_full_imagenet_shaped_vgg16(tmp_path):
    _compare((224, 224, 3), 1000, True, tmp_path, ".weights.h5")


def test_shape_mismatch_is_reported(tmp_path):
    ref = keras.applications.VGG16(weights=None, include_top=True,
                                   input_shape=(32, 32, 3), classes=10)
    path = str(tmp_path / "ref.weights.h5")
    ref.save_weights(path)
    model = vgg16(num_classes=7, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="predictions"):
        load_keras_applications_weights(model, path)


@pytest.fixture(scope="module")
def top_files(tmp_path_factory):
    """keras.applications.VGG16 with its top (10 classes, 32 px), in both
    formats; and the model."""
    keras.utils.set_random_seed(2)
    ref = keras.applications.VGG16(weights=None, input_shape=(32, 32, 3),
                                   classes=10, classifier_activation=None)
    root = tmp_path_factory.mktemp("top")
    ref.save_weights(str(root / "vgg16.weights.h5"))
    legacy = write_applications_file(ref, root / "vgg16.h5")
    return ref, {".weights.h5": str(root / "vgg16.weights.h5"), ".h5": legacy}


@pytest.mark.parametrize("suffix", [".weights.h5", ".h5"])
def test_backbone_loads_the_convolutions_and_keeps_the_head(suffix, top_files):
    ref, files = top_files
    model = vgg16(num_classes=7, input_shape=(32, 32, 3))
    head = {name: model.get_layer(name).get_weights()
            for name in ("fc1", "fc2", "predictions")}
    loaded = load_backbone_weights(model, files[suffix])
    convs = [layer.name for layer in ref.layers if layer.weights][:13]
    assert loaded == backbone_layers(model) == convs
    for name in convs:
        for a, b in zip(ref.get_layer(name).get_weights(),
                        model.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)
    for name, before in head.items():
        for a, b in zip(before, model.get_layer(name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_backbone_of_a_model_without_top_is_all_of_it():
    model = vgg16(input_shape=(32, 32, 3), include_top=False, width=1 / 16)
    assert len(backbone_layers(model)) == 13
    pooled = vgg16(input_shape=(32, 32, 3), include_top=False, pooling="avg",
                   width=1 / 16, name="renamed")  # found by its avg_pool
    assert backbone_layers(pooled) == backbone_layers(model)


def test_backbone_errors_name_the_layer(top_files):
    _, files = top_files
    with pytest.raises(KzooError, match="No weights for layer 'block3_conv4'"):
        load_backbone_weights(vgg19(num_classes=7, input_shape=(32, 32, 3)),
                              files[".h5"])
    narrow = vgg16(num_classes=7, input_shape=(32, 32, 3), width=0.5)
    with pytest.raises(KzooError, match="Weight shapes differ for layer "
                       "'block1_conv1'"):
        load_backbone_weights(narrow, files[".h5"])
    with pytest.raises(KzooError, match=r"no weighted layers \['nope'\]"):
        load_keras_applications_weights(narrow, files[".h5"], layers=["nope"])


def test_copy_weights_by_name():
    source = vgg16(num_classes=3, input_shape=(32, 32, 3), width=1 / 16)
    target = vgg16(num_classes=3, input_shape=(32, 32, 3), width=1 / 16)
    copy_weights(target, source)
    for a, b in zip(source.get_weights(), target.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = vgg16(num_classes=5, input_shape=(32, 32, 3), width=1 / 16)
    with pytest.raises(KzooError, match="'predictions'.*Received: source='vgg16'"):
        copy_weights(other, source)
