"""Every registered model: forward, backward, serialization and export."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.models import create_model, list_models
from kzoo.testing import assert_keras_round_trip, assert_saved_model_parity
from tests.models.helpers import images_for, small_model


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_every_weight_gets_a_gradient(name):
    model = small_model(name)
    x = images_for(model)
    y = np.array([0, 1, 2, 1])
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        logits = model(x, training=True)
        loss = loss_fn(y, logits)
    assert logits.shape == (4, 3)
    assert np.all(np.isfinite(logits))
    grads = tape.gradient(loss, model.trainable_weights)
    for weight, grad in zip(model.trainable_weights, grads):
        assert grad is not None, weight.path
        assert np.all(np.isfinite(grad)), weight.path
        assert np.any(grad != 0), weight.path


# One VGG (the table-driven builder) in the default tier; the other VGG rows
# (5-9 s each) in the large one.
DEFAULT_TIER_ROUND_TRIPS = ("perceptron", "lenet5", "alexnet", "vgg11")


@pytest.mark.parametrize("name", [
    name if name in DEFAULT_TIER_ROUND_TRIPS
    else pytest.param(name, marks=pytest.mark.large) for name in list_models()])
def test_keras_and_saved_model_round_trips(name, tmp_path):
    model = small_model(name)
    x = images_for(model, seed=1)
    assert_keras_round_trip(model, x, str(tmp_path))
    assert_saved_model_parity(model, x, str(tmp_path / "export"))


@pytest.mark.parametrize(
    "name,kwargs,expected",
    [
        ("lenet5", dict(num_classes=10, input_shape=(32, 32, 1)), 61_706),
        ("alexnet", dict(num_classes=1000), 62_378_344),
        ("alexnet", dict(num_classes=1000, groups=2), 60_965_224),
        ("vgg11", dict(num_classes=1000), 132_863_336),
        ("vgg13", dict(num_classes=1000), 133_047_848),
        ("vgg16", dict(num_classes=1000), 138_357_544),
        ("vgg19", dict(num_classes=1000), 143_667_240),
        ("vgg16_bn", dict(num_classes=1000), 138_365_992),
    ],
)
def test_published_parameter_counts(name, kwargs, expected):
    model = create_model(name, **kwargs)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == expected


def test_vgg_small_inputs_adapt():
    for size in (28, 32):
        model = create_model("vgg16", num_classes=10, input_shape=(size, size, 3),
                             width=1 / 16)
        assert model.get_layer("block5_pool").output.shape[1:3] == (1, 1)
        assert model(images_for(model, 1)).shape == (1, 10)


@pytest.mark.parametrize(
    "name,shape,minimum",
    [("alexnet", (32, 32, 3), 67), ("lenet5", (12, 12, 1), 16)],
)
def test_too_small_inputs_fail_clearly(name, shape, minimum):
    with pytest.raises(ValueError, match=f"at least {minimum}x{minimum}.*Received"):
        create_model(name, num_classes=10, input_shape=shape)


def test_feature_extractor_and_pooling_modes():
    kw = dict(input_shape=(32, 32, 3), width=1 / 16, include_top=False)
    assert create_model("vgg16", pooling=None, **kw).output_shape == (None, 1, 1, 32)
    assert create_model("vgg16", pooling="avg", **kw).output_shape == (None, 32)
    assert create_model("vgg16", pooling="max", **kw).output_shape == (None, 32)
    head = create_model("vgg16", num_classes=5, input_shape=(64, 64, 3),
                        width=1 / 16, pooling="avg")
    assert head.get_layer("avg_pool").output.shape == (None, 32)
    assert head.output_shape == (None, 5)


def test_width_multiplier_scales_filters_and_units():
    model = create_model("vgg11_bn", num_classes=10, input_shape=(32, 32, 3),
                         width=0.25)
    assert model.get_layer("block1_conv1").filters == 16
    assert model.get_layer("block5_conv2").filters == 128
    assert model.get_layer("fc1").units == 1024
    assert model.get_layer("block1_bn1") is not None


def test_alexnet_normalization_options_and_towers():
    kw = dict(num_classes=10, input_shape=(67, 67, 3), width=1 / 16)
    names = lambda m: {layer.name for layer in m.layers}  # noqa: E731
    assert {"lrn1", "lrn2"} <= names(create_model("alexnet", **kw))
    assert {"bn1", "bn2"} <= names(create_model("alexnet", normalization="batchnorm",
                                                **kw))
    plain = names(create_model("alexnet", normalization=None, **kw))
    assert not ({"lrn1", "bn1"} & plain)
    towers = create_model("alexnet", groups=2, **kw)
    assert towers.get_layer("conv2").groups == 2
    assert towers.get_layer("conv3").groups == 1
    with pytest.raises(ValueError, match="normalization.*Received"):
        create_model("alexnet", normalization="layernorm", **kw)


def test_models_return_logits_unless_asked():
    x = images_for(small_model("lenet5"))
    logits = small_model("lenet5")(x)
    assert not np.allclose(np.sum(logits, axis=-1), 1.0)
    probs = create_model("lenet5", num_classes=3, input_shape=(16, 16, 1),
                         classifier_activation="softmax")(x)
    np.testing.assert_allclose(np.sum(probs, axis=-1), 1.0, rtol=1e-5)
