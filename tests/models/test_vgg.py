"""VGG's `preprocessing` option: the mean-RGB default, the caffe convention
of the keras.applications ImageNet weights, or none."""

import keras
import numpy as np
import pytest

from kzoo.export import SERVING_TENSORS, export_saved_model, load_serving_signature
from kzoo.layers import ReverseChannels
from kzoo.models import create_model
from kzoo.testing import assert_keras_round_trip

SMALL = dict(num_classes=3, input_shape=(32, 32, 3), width=1 / 16)


def _pair(name="vgg11_bn"):
    """The same weights with caffe preprocessing inside, and with none."""
    keras.utils.set_random_seed(0)
    caffe = create_model(name, preprocessing="caffe", **SMALL)
    plain = create_model(name, preprocessing=None, **SMALL)
    plain.set_weights(caffe.get_weights())
    return caffe, plain


def _images(seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")


@pytest.mark.parametrize("name", ["vgg11", "vgg16_bn"])
def test_caffe_equals_keras_preprocess_input(name):
    caffe, plain = _pair(name)
    x = _images()
    want = plain(keras.applications.vgg16.preprocess_input(x.copy()))
    np.testing.assert_allclose(caffe(x), want, rtol=1e-4, atol=1e-4)
    assert not np.allclose(plain(x), want, atol=1e-2)  # the convention matters


def test_serving_takes_rgb_pixels_and_applies_the_caffe_convention(tmp_path):
    """The SavedModel feeds RGB [0, 255] floats to the model, so with caffe
    preprocessing inside, serving equals keras.applications' pipeline."""
    caffe, plain = _pair()
    x = _images(seed=1)
    assert_keras_round_trip(caffe, x, str(tmp_path))
    version = export_saved_model(caffe, str(tmp_path / "export"), ["a", "b", "c"])
    serve = load_serving_signature(version, SERVING_TENSORS)
    got = serve(images=keras.ops.convert_to_tensor(x))["probabilities"].numpy()
    want = keras.ops.softmax(plain(keras.applications.vgg16.preprocess_input(x.copy())))
    np.testing.assert_allclose(got, np.asarray(want), atol=1e-5)


def test_layer_names_of_each_preprocessing():
    names = {kind: [layer.name for layer in create_model(
        "vgg11", preprocessing=kind, **SMALL).layers[:3]]
        for kind in ("mean_rgb", "caffe", None)}
    assert names["mean_rgb"] == ["images", "preprocessing", "block1_conv1"]
    assert names["caffe"] == ["images", "preprocessing", "preprocessing_mean"]
    assert names[None] == ["images", "block1_conv1", "block1_pool"]
    model = create_model("vgg11", preprocessing="caffe", **SMALL)
    assert isinstance(model.get_layer("preprocessing"), ReverseChannels)
    mean = model.get_layer("preprocessing_mean")
    np.testing.assert_allclose(np.ravel(mean.mean), [103.939, 116.779, 123.68])


def test_include_preprocessing_false_is_preprocessing_none():
    keras.utils.set_random_seed(0)
    a = create_model("vgg11", include_preprocessing=False, **SMALL)
    keras.utils.set_random_seed(0)
    b = create_model("vgg11", preprocessing=None, **SMALL)
    assert a.to_json() == b.to_json()
    default = create_model("vgg11", **SMALL)
    assert isinstance(default.get_layer("preprocessing"), keras.layers.Normalization)


@pytest.mark.parametrize("kwargs,match", [
    (dict(preprocessing="torch"), "`preprocessing` must be one of .*"
                                  "Received: preprocessing='torch'"),
    (dict(include_preprocessing=False, preprocessing="caffe"),
     "conflicts.*Received: include_preprocessing=False, preprocessing='caffe'"),
    (dict(preprocessing="caffe", input_shape=(32, 32, 1)),
     "RGB images.*Received: channels=1"),
])
def test_invalid_preprocessing_is_a_clear_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_model("vgg11", **{**SMALL, **kwargs})
