import keras
import numpy as np
import pytest

from kzoo.training.losses import crossentropy, distillation_loss, labelled_mask

rng = np.random.default_rng(0)
LOGITS = rng.normal(0, 3, (6, 5)).astype("float32")
LABELS = np.array([0, 4, 2, 2, 1, 3])


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_crossentropy_matches_keras_for_integer_and_one_hot_labels(smoothing):
    one_hot = keras.ops.one_hot(LABELS, 5)
    want = keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=smoothing, reduction=None
    )(one_hot, LOGITS)
    np.testing.assert_allclose(
        crossentropy(one_hot, LOGITS, smoothing), want, rtol=1e-5
    )
    np.testing.assert_allclose(crossentropy(LABELS, LOGITS, smoothing), want, rtol=1e-5)


def test_unlabelled_examples_give_zero_and_are_masked():
    labels = LABELS.copy()
    labels[[1, 4]] = -1
    values = np.asarray(crossentropy(labels, LOGITS))
    assert values[1] == 0.0 and values[4] == 0.0 and np.all(values[[0, 2, 3, 5]] > 0)
    np.testing.assert_array_equal(labelled_mask(labels, LOGITS), [1, 0, 1, 1, 0, 1])
    np.testing.assert_array_equal(
        labelled_mask(keras.ops.one_hot(labels, 5), LOGITS), [1, 0, 1, 1, 0, 1]
    )
    np.testing.assert_array_equal(labelled_mask(None, LOGITS), np.zeros(6))


@pytest.mark.parametrize("temperature", [1.0, 4.0, 20.0])
def test_distillation_loss_is_t_squared_kl_of_tempered_softmaxes(temperature):
    teacher = rng.normal(0, 3, (6, 5)).astype("float32")
    p = keras.ops.softmax(teacher / temperature)
    q = keras.ops.softmax(LOGITS / temperature)
    want = temperature**2 * keras.losses.KLDivergence(reduction=None)(p, q)
    got = distillation_loss(teacher, LOGITS, temperature)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(
        distillation_loss(teacher, teacher, temperature), np.zeros(6), atol=1e-5
    )
