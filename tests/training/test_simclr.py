"""SimCLR: the NT-Xent loss against a hand-written reference, and the
wrapper contract (kzoo.training.simclr)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.training import SimCLRModel, encoder_of, nt_xent, with_projection
from tests.training.helpers import (
    assert_two_replicas_equal_one_device,
    images_and_labels,
    teacher_model,
)


def reference_nt_xent(z1, z2, temperature):
    """SimCLR's loss written out: for each of the 2N views, minus the log of
    exp(sim(positive)/T) over the sum of exp(sim(other)/T) over the 2N - 1
    other views; sim is the cosine."""
    z = np.concatenate([z1, z2]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n = len(z1)
    losses = []
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        terms = [np.exp(z[i] @ z[k] / temperature) for k in range(2 * n) if k != i]
        losses.append(-np.log(np.exp(z[i] @ z[positive] / temperature) / sum(terms)))
    return np.array(losses)


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_the_written_out_loss(temperature):
    rng = np.random.default_rng(0)
    z1, z2 = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    got = nt_xent(tf.constant(z1, tf.float32), tf.constant(z2, tf.float32),
                  temperature).numpy()
    np.testing.assert_allclose(got, reference_nt_xent(z1, z2, temperature),
                               rtol=1e-5)


def test_nt_xent_is_small_when_views_agree_and_differ_from_the_rest():
    z = np.eye(4) * 3.0
    agree = nt_xent(tf.constant(z, tf.float32), tf.constant(z, tf.float32), 0.1)
    swapped = nt_xent(tf.constant(z, tf.float32),
                      tf.constant(z[::-1].copy(), tf.float32), 0.1)
    assert float(tf.reduce_max(agree)) < 1e-3
    assert float(tf.reduce_min(swapped)) > 5.0


def test_a_replicas_share_with_its_offset_equals_its_rows_of_the_whole():
    rng = np.random.default_rng(1)
    z1, z2 = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    whole = reference_nt_xent(z1, z2, 0.2)
    c = lambda a: tf.constant(a, tf.float32)  # noqa: E731
    first = nt_xent(c(z1[:3]), c(z2[:3]), 0.2, 0, c(z1), c(z2)).numpy()
    second = nt_xent(c(z1[3:]), c(z2[3:]), 0.2, 3, c(z1), c(z2)).numpy()
    np.testing.assert_allclose(first, whole[[0, 1, 2, 5, 6, 7]], rtol=1e-5)
    np.testing.assert_allclose(second, whole[[3, 4, 8, 9]], rtol=1e-5)


def test_encoder_is_the_classifier_up_to_its_predictions_input():
    classifier = teacher_model()
    encoder = encoder_of(classifier)
    assert encoder.output.shape[1:] == classifier.get_layer("predictions").input.shape[1:]
    assert all(a is b for a, b in zip(encoder.layers, classifier.layers))
    network = with_projection(encoder, 16)
    assert network.output.shape[1:] == (16,)
    with pytest.raises(ValueError, match="predictions"):
        encoder_of(encoder)
    with pytest.raises(ValueError, match="temperature"):
        SimCLRModel(network, temperature=0.0)


def _views(n=21, batch=8):
    x, _ = images_and_labels(n)
    flipped = x[:, :, ::-1, :].copy()
    return tf.data.Dataset.from_tensor_slices(
        {"images": x, "views": flipped}).batch(batch)


def _train(strategy, epochs=2):
    with strategy.scope():
        keras.utils.set_random_seed(3)
        encoder = encoder_of(teacher_model())
        model = SimCLRModel(with_projection(encoder, 8), temperature=0.5)
        model.compile(keras.optimizers.SGD(0.1))
    history = model.fit(_views(), epochs=epochs, verbose=0, shuffle=False)
    return history.history, [w.numpy() for w in encoder.weights]


def test_fit_trains_the_encoder_and_the_loss_is_finite():
    keras.utils.set_random_seed(3)
    encoder = encoder_of(teacher_model())
    before = [w.numpy() for w in encoder.weights]
    model = SimCLRModel(with_projection(encoder, 8), temperature=0.5)
    model.compile(keras.optimizers.Adam(1e-2))
    history = model.fit(_views(), epochs=8, verbose=0).history
    assert np.all(np.isfinite(history["loss"]))
    assert history["loss"][-1] < history["loss"][0]
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(before, encoder.weights))


def test_two_replicas_equal_one_device():
    # Each replica contrasts its images with the whole global batch; the
    # last batch of 5 splits 3 / 2 over the replicas.
    assert_two_replicas_equal_one_device(_train, ("loss",))
