import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.layers import ReverseChannels


def test_reverses_the_channel_axis_like_numpy_and_tf():
    x = np.random.default_rng(0).normal(size=(2, 5, 4, 3)).astype("float32")
    y = np.asarray(ReverseChannels()(x))
    np.testing.assert_array_equal(y, x[..., ::-1])
    np.testing.assert_array_equal(y, tf.reverse(x, axis=[-1]).numpy())
    np.testing.assert_array_equal(ReverseChannels()(y), x)  # its own inverse
    first = np.asarray(ReverseChannels(axis=1)(np.moveaxis(x, -1, 1)))
    np.testing.assert_array_equal(np.moveaxis(first, 1, -1), x[..., ::-1])


@pytest.mark.parametrize("dtype", ["float32", "float16", "int32"])
def test_shape_and_dtype_are_kept(dtype):
    layer = ReverseChannels(dtype="float16" if dtype == "float16" else None)
    x = keras.ops.cast(keras.ops.reshape(keras.ops.arange(54), (2, 3, 3, 3)), dtype)
    y = layer(x)
    assert tuple(y.shape) == (2, 3, 3, 3)
    assert keras.backend.standardize_dtype(y.dtype) == dtype
    np.testing.assert_array_equal(y, np.asarray(x)[..., ::-1])
    assert layer.compute_output_shape((None, 3, 3, 3)) == (None, 3, 3, 3)
    assert not layer.weights


def test_config_round_trip_and_registration(tmp_path):
    layer = ReverseChannels(axis=1, name="bgr")
    config = keras.saving.serialize_keras_object(layer)
    assert config["registered_name"] == "kzoo>ReverseChannels"
    restored = keras.saving.deserialize_keras_object(config)
    assert isinstance(restored, ReverseChannels)
    assert restored.get_config() == layer.get_config()
    assert restored.axis == 1
    with pytest.raises(ValueError, match="Received: axis='last'"):
        ReverseChannels(axis="last")


def test_trains_inside_a_model_and_reloads(tmp_path):
    inputs = keras.Input((4, 4, 3))
    x = ReverseChannels()(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Flatten()(x))
    model = keras.Model(inputs, outputs)
    model.compile("sgd", "mse")
    x = np.random.default_rng(1).normal(size=(8, 4, 4, 3)).astype("float32")
    history = model.fit(x, np.zeros((8, 2)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    path = str(tmp_path / "m.keras")
    model.save(path)
    np.testing.assert_allclose(keras.models.load_model(path)(x), model(x))
