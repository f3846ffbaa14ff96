import keras
import numpy as np
import tensorflow as tf

from kzoo.layers import Dropout


def test_identity_when_not_training():
    x = np.random.default_rng(0).normal(size=(4, 10)).astype("float32")
    np.testing.assert_array_equal(Dropout(0.5)(x, training=False), x)
    np.testing.assert_array_equal(Dropout(0.5)(x), x)


def test_drop_fraction_and_scaling():
    x = np.ones((100, 100), "float32")
    y = np.asarray(Dropout(0.3, seed=1)(x, training=True))
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(1 - kept.mean() - 0.3) < 0.02


def test_seeded_masks_reproduce_and_advance():
    x = np.ones((8, 64), "float32")
    a, b = Dropout(0.5, seed=3), Dropout(0.5, seed=3)
    first = np.asarray(a(x, training=True))
    np.testing.assert_array_equal(first, b(x, training=True))
    assert not np.array_equal(first, a(x, training=True))


def test_runs_inside_xla_and_noise_shape_falls_back():
    layer = Dropout(0.5, seed=0)
    fn = tf.function(lambda t: layer(t, training=True), jit_compile=True)
    out = np.asarray(fn(tf.ones((4, 6))))
    assert set(np.unique(out)) <= {0.0, 2.0}
    shared = Dropout(0.5, noise_shape=(None, 1), seed=0)(np.ones((6, 5), "float32"),
                                                         training=True)
    rows = np.asarray(shared)
    assert all(len(set(row)) == 1 for row in rows)  # one mask value per row


def test_config_round_trip_and_registration():
    layer = Dropout(0.25, seed=7, name="drop")
    config = keras.saving.serialize_keras_object(layer)
    assert config["registered_name"] == "kzoo>Dropout"
    restored = keras.saving.deserialize_keras_object(config)
    assert isinstance(restored, Dropout)
    assert restored.get_config() == layer.get_config()
