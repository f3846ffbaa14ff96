import keras
import numpy as np
import pytest

from kzoo.models import load_keras_applications_weights, vgg16


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


@pytest.mark.slow
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
