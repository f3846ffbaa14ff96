import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.semi_supervised import PSEUDO_TARGETS, UNLABELED, PseudoLabelModel
from tests.training.helpers import (
    assert_two_replicas_equal_one_device,
    ce,
    images_and_labels,
    max_difference,
    softmax,
    student_model,
)

KEYS = ("loss", "labeled_loss", "unlabeled_loss", "mask_rate")


def semi_data(n_labeled=12, n_unlabeled=36, batch=6, ratio=3, targets=None):
    x, y = images_and_labels(n=n_labeled, seed=0)
    xu, _ = images_and_labels(n=n_unlabeled, seed=1)
    unl = {"unlabeled": xu} if targets is None else {
        "unlabeled": xu, PSEUDO_TARGETS: targets}
    lab = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    unl = tf.data.Dataset.from_tensor_slices(unl).batch(batch * ratio)
    ds = tf.data.Dataset.zip(lab, unl).map(
        lambda lab, unl: (dict(images=lab[0], **unl), lab[1]))
    return ds, (x, y, xu)


def test_logged_losses_follow_lee_formula_with_threshold():
    ds, (x, y, xu) = semi_data(n_labeled=6, n_unlabeled=18)
    network = student_model()
    probs = softmax(network.predict(xu, verbose=0))
    threshold = float(np.median(probs.max(-1)))
    model = PseudoLabelModel(network, unlabeled_weight=2.5, threshold=threshold)
    model.compile(keras.optimizers.SGD(0.0))  # one step, weights unchanged
    logs = model.fit(ds, epochs=1, verbose=0).history
    logits_u = network.predict(xu, verbose=0)
    mask = softmax(logits_u).max(-1) >= threshold
    unlabeled = ce(np.eye(4)[logits_u.argmax(-1)], logits_u) * mask
    labeled = ce(np.eye(4)[y], network.predict(x, verbose=0))
    assert 0 < mask.mean() < 1
    np.testing.assert_allclose(logs["mask_rate"], [mask.mean()], rtol=1e-6)
    np.testing.assert_allclose(logs["unlabeled_loss"], [unlabeled.mean()], rtol=1e-5)
    np.testing.assert_allclose(logs["labeled_loss"], [labeled.mean()], rtol=1e-5)
    np.testing.assert_allclose(
        logs["loss"], [labeled.mean() + 2.5 * unlabeled.mean()], rtol=1e-5)


def test_soft_online_targets_are_the_predicted_probabilities():
    ds, (_, _, xu) = semi_data(n_labeled=6, n_unlabeled=18)
    network = student_model()
    model = PseudoLabelModel(network, soft=True)
    model.compile(keras.optimizers.SGD(0.0))
    logs = model.fit(ds, epochs=1, verbose=0).history
    logits_u = network.predict(xu, verbose=0)
    np.testing.assert_allclose(
        logs["unlabeled_loss"], [ce(softmax(logits_u), logits_u).mean()], rtol=1e-5)


def test_fixed_targets_are_used_as_given():
    rng = np.random.default_rng(0)
    targets = rng.dirichlet(np.ones(4), size=18).astype("float32")
    ds, (_, _, xu) = semi_data(n_labeled=6, n_unlabeled=18, targets=targets)
    network = student_model()
    model = PseudoLabelModel(network, threshold=1.0)  # ignored for fixed targets
    model.compile(keras.optimizers.SGD(0.0))
    logs = model.fit(ds, epochs=1, verbose=0).history
    expected = ce(targets, network.predict(xu, verbose=0)).mean()
    np.testing.assert_allclose(logs["unlabeled_loss"], [expected], rtol=1e-5)
    assert logs["mask_rate"] == [1.0]


def test_gradient_step_matches_the_formula():
    ds, (x, y, xu) = semi_data(n_labeled=6, n_unlabeled=18)
    model = PseudoLabelModel(student_model(), unlabeled_weight=0.7)
    model.compile(keras.optimizers.SGD(0.1))
    model.fit(ds, epochs=1, verbose=0)

    reference = student_model()
    with tf.GradientTape() as tape:
        logits = reference(np.concatenate([x, xu]), training=True)
        lab, unl = logits[:6], logits[6:]
        targets = tf.one_hot(tf.argmax(tf.stop_gradient(unl), -1), 4)
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(y, lab, from_logits=True)
        ) + 0.7 * tf.reduce_mean(
            keras.losses.categorical_crossentropy(targets, unl, from_logits=True))
    grads = tape.gradient(loss, reference.trainable_variables)
    for var, grad in zip(reference.trainable_variables, grads):
        var.assign(var - 0.1 * grad)
    assert max_difference(model.network.get_weights(), reference.get_weights()) < 1e-6


def test_zero_unlabelled_weight_equals_plain_training():
    ds, (x, y, _) = semi_data()
    model = PseudoLabelModel(student_model(), unlabeled_weight=0.0)
    model.compile(keras.optimizers.SGD(0.05))
    model.fit(ds, epochs=2, verbose=0)
    plain = student_model()
    plain.compile(keras.optimizers.SGD(0.05),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    plain.fit(x, y, batch_size=6, epochs=2, verbose=0, shuffle=False)
    assert max_difference(plain.get_weights(), model.network.get_weights()) < 1e-6


def test_two_replicas_equal_one_device():
    def run(strategy):
        ds, _ = semi_data(n_labeled=12, n_unlabeled=36)
        with strategy.scope():
            model = PseudoLabelModel(student_model(), unlabeled_weight=1.5,
                                     threshold=0.3)
            model.compile(keras.optimizers.SGD(0.05))
        history = model.fit(ds, epochs=2, verbose=0).history
        return history, model.network.get_weights()

    assert_two_replicas_equal_one_device(run, KEYS)


def test_evaluation_reports_the_labelled_loss_and_metrics():
    x, y = images_and_labels(n=12)
    model = PseudoLabelModel(student_model())
    model.compile(keras.optimizers.SGD(0.0), metrics=["accuracy"])
    result = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    assert set(result) == {"loss", "labeled_loss", "accuracy"}
    assert result["loss"] == pytest.approx(result["labeled_loss"])
    assert model.predict(x, verbose=0).shape == (12, 4)
    assert UNLABELED == "unlabeled"


@pytest.mark.parametrize(
    "kwargs, message",
    [({"threshold": 1.2}, "threshold"), ({"unlabeled_weight": -1.0}, "unlabeled")],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PseudoLabelModel(student_model(), **kwargs)
