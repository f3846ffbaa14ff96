import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.layers import LocalResponseNormalization


def test_matches_tf_local_response_normalization_with_paper_constants():
    x = np.random.default_rng(0).normal(0, 30, (2, 5, 5, 16)).astype("float32")
    layer = LocalResponseNormalization(size=5, bias=2.0, alpha=1e-4, beta=0.75)
    want = tf.nn.local_response_normalization(
        x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75
    )
    np.testing.assert_allclose(layer(x), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size,bias,alpha,beta", [(3, 1.0, 1e-2, 0.5), (1, 0.5, 1.0, 1.0)])
def test_matches_tf_for_other_constants(size, bias, alpha, beta):
    x = np.random.default_rng(1).normal(0, 3, (1, 3, 3, 7)).astype("float32")
    got = LocalResponseNormalization(size, bias, alpha, beta)(x)
    want = tf.nn.local_response_normalization(
        x, depth_radius=(size - 1) // 2, bias=bias, alpha=alpha, beta=beta
    )
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_normalization_is_active_for_large_activations():
    x = np.full((1, 1, 1, 5), 100.0, "float32")
    y = np.asarray(LocalResponseNormalization()(x))
    # centre channel: 100 / (2 + 1e-4 * 5 * 100**2) ** 0.75
    np.testing.assert_allclose(y[0, 0, 0, 2], 100 / (2 + 5.0) ** 0.75, rtol=1e-5)
    # edge channel sums over only three channels
    np.testing.assert_allclose(y[0, 0, 0, 0], 100 / (2 + 3.0) ** 0.75, rtol=1e-5)


def test_config_round_trip_and_registration():
    layer = LocalResponseNormalization(size=3, bias=1.5, alpha=2e-4, beta=0.5,
                                       name="lrn")
    config = keras.saving.serialize_keras_object(layer)
    restored = keras.saving.deserialize_keras_object(config)
    assert isinstance(restored, LocalResponseNormalization)
    assert restored.get_config() == layer.get_config()
    assert config["registered_name"] == "kzoo>LocalResponseNormalization"


def test_shape_dtype_and_one_fit_step():
    model = keras.Sequential([
        keras.Input((6, 6, 4)),
        keras.layers.Conv2D(8, 3),
        LocalResponseNormalization(),
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    ])
    x = np.random.default_rng(0).normal(size=(4, 6, 6, 4)).astype("float32")
    assert model.layers[1].compute_output_shape((None, 4, 4, 8)) == (None, 4, 4, 8)
    assert model.layers[1](np.ones((1, 4, 4, 8), "float32")).dtype == "float32"
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = model.fit(x, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert any(not np.allclose(b, w) for b, w in zip(before, model.trainable_weights))


@pytest.mark.parametrize("kwargs", [{"size": 4}, {"size": 0}, {"beta": -1.0}])
def test_invalid_arguments(kwargs):
    with pytest.raises(ValueError, match="Received"):
        LocalResponseNormalization(**kwargs)
