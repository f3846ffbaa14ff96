import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.semi_supervised import (
    STRONG,
    UNLABELED_INDEX,
    UNLABELED_LABELS,
    WEAK,
    FixedThreshold,
    FixMatchModel,
    FlexMatch,
    align_distribution,
    flexmatch_beta,
    flexmatch_thresholds,
)
from kzoo.training.wrapper import SelectedMean
from tests.training.helpers import (
    assert_two_replicas_equal_one_device,
    ce,
    images_and_labels,
    max_difference,
    softmax,
    student_model,
)

KEYS = ("loss", "labeled_loss", "unlabeled_loss", "mask_rate",
        "pseudo_label_accuracy")


def logits_with_confidence(confidences, classes, num_classes=4):
    """Logits whose softmax puts `confidences[i]` on `classes[i]` and
    spreads the rest evenly."""
    rows = []
    for p, c in zip(confidences, classes):
        probs = np.full(num_classes, (1 - p) / (num_classes - 1))
        probs[c] = p
        rows.append(np.log(probs))
    return np.asarray(rows, np.float32)


def fixmatch_data(n_labeled=6, n_unlabeled=18, batch=6, ratio=3, shift=40.0,
                  hidden=None):
    """Batches of labelled images and weak/strong views (the strong view
    brighter by `shift`) of unlabelled ones, with their pool indices."""
    x, y = images_and_labels(n=n_labeled, seed=0)
    xu, yu = images_and_labels(n=n_unlabeled, seed=1)
    unl = {WEAK: xu, STRONG: np.clip(xu + shift, 0, 255),
           UNLABELED_INDEX: np.arange(n_unlabeled)}
    if hidden is not None:
        unl[UNLABELED_LABELS] = hidden
    lab = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch)
    views = tf.data.Dataset.from_tensor_slices(unl).batch(batch * ratio)
    ds = tf.data.Dataset.zip(lab, views).map(
        lambda lab, unl: (dict(images=lab[0], **unl), lab[1]))
    return ds, (x, y, xu, unl, yu)


def model_of(threshold=None, flexmatch=False, pool_size=None,
             threshold_warmup=True, **kwargs):
    """A FixMatchModel of a small network; `threshold` (τ), `flexmatch`,
    `pool_size`, `threshold_warmup` make its confidence strategy."""
    kwargs.setdefault("ema_decay", 0.0)
    tau = 0.95 if threshold is None else threshold
    if flexmatch:
        kwargs["confidence"] = FlexMatch(tau, pool_size=pool_size,
                                         warmup=threshold_warmup)
    elif threshold is not None:
        kwargs["confidence"] = FixedThreshold(tau)
    return FixMatchModel(student_model(), **kwargs)


# --- the loss on hand-made logits ----------------------------------------

def test_the_mask_keeps_the_confidences_at_or_above_tau():
    weak = logits_with_confidence([0.5, 0.949, 0.95, 0.99], [0, 1, 2, 3])
    strong = np.random.default_rng(0).normal(size=(4, 4)).astype("float32")
    terms = model_of(threshold=0.95).unlabeled_terms(tf.constant(weak),
                                                     tf.constant(strong))
    np.testing.assert_array_equal(terms["mask"], [0, 0, 1, 1])
    np.testing.assert_array_equal(terms["pseudo_labels"], [0, 1, 2, 3])
    expected = ce(np.eye(4)[[0, 1, 2, 3]], strong) * [0, 0, 1, 1]
    np.testing.assert_allclose(terms["loss"], expected, rtol=1e-5)


def test_weak_view_targets_get_no_gradient():
    weak = tf.constant(logits_with_confidence([0.97, 0.99, 0.3], [1, 0, 2]))
    strong = tf.constant(np.random.default_rng(1).normal(size=(3, 4)), tf.float32)
    model = model_of(threshold=0.95)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([weak, strong])
        loss = tf.reduce_sum(model.unlabeled_terms(weak, strong)["loss"])
    assert tape.gradient(loss, weak) is None
    # d CE / d strong logits = softmax - one-hot, for the masked rows only.
    expected = (softmax(strong.numpy()) - np.eye(4)[[1, 0, 2]]) * [[1], [1], [0]]
    np.testing.assert_allclose(tape.gradient(loss, strong), expected, atol=1e-6)


def test_logged_terms_and_lambda_u_follow_the_formula():
    hidden = np.array([0, 1, 2, 3, -1, 0] * 3, np.int32)
    ds, (x, y, xu, unl, _) = fixmatch_data(hidden=hidden)
    network = student_model()
    weak_probs = softmax(network.predict(xu, verbose=0))
    tau = float(np.median(weak_probs.max(-1)))
    model = FixMatchModel(network, confidence=FixedThreshold(tau),
                          unlabeled_weight=2.5,
                          ema_decay=0.0)
    model.compile(keras.optimizers.SGD(0.0))  # one step, weights unchanged
    logs = model.fit(ds, epochs=1, verbose=0).history
    mask = weak_probs.max(-1) >= tau
    pseudo = weak_probs.argmax(-1)
    strong_logits = network.predict(unl[STRONG], verbose=0)
    unlabeled = ce(np.eye(4)[pseudo], strong_logits) * mask
    labeled = ce(np.eye(4)[y], network.predict(x, verbose=0))
    known = mask & (hidden >= 0)
    assert 0 < mask.mean() < 1 and known.any()
    np.testing.assert_allclose(logs["mask_rate"], [mask.mean()], rtol=1e-6)
    np.testing.assert_allclose(logs["unlabeled_loss"], [unlabeled.mean()], rtol=1e-5)
    np.testing.assert_allclose(logs["labeled_loss"], [labeled.mean()], rtol=1e-5)
    np.testing.assert_allclose(
        logs["loss"], [labeled.mean() + 2.5 * unlabeled.mean()], rtol=1e-5)
    np.testing.assert_allclose(logs["pseudo_label_accuracy"],
                               [(pseudo == hidden)[known].mean()], rtol=1e-6)


def epoch_logs(threshold, hidden=None):
    """The logs of one epoch of FixMatch (no update) at `threshold`."""
    ds, _ = fixmatch_data(hidden=hidden)
    model = model_of(threshold=threshold)
    model.compile(keras.optimizers.SGD(0.0))
    return {k: v[0] for k, v in model.fit(ds, epochs=1, verbose=0).history.items()}


def test_pseudo_label_accuracy_is_n_a_when_no_known_pseudo_label_passed():
    known = np.array([0, 1, 2, 3, 1, 0] * 3, np.int32)
    # Labels known, nothing reaches tau = 1: NaN (n/a), never 0.0.
    nothing = epoch_logs(1.0, hidden=known)
    assert nothing["mask_rate"] == 0.0
    assert np.isnan(nothing["pseudo_label_accuracy"])
    # Everything passes, but no label is known: n/a as well.
    unknown = epoch_logs(0.0, hidden=np.full(18, -1, np.int32))
    assert unknown["mask_rate"] == 1.0
    assert np.isnan(unknown["pseudo_label_accuracy"])
    # Without hidden labels the metric is not logged at all.
    assert "pseudo_label_accuracy" not in epoch_logs(0.0)
    # Something passes: a rate.
    assert 0.0 <= epoch_logs(0.0, hidden=known)["pseudo_label_accuracy"] <= 1.0


def test_selected_mean_is_nan_while_it_selected_nothing_and_resets():
    mean = SelectedMean(name="rate")
    assert float(mean.seen) == 0.0
    mean.update_state(tf.constant([1.0, 0.0, 1.0]), sample_weight=tf.zeros([3]))
    assert float(mean.seen) == 3.0 and np.isnan(float(mean.result()))
    mean.update_state(tf.constant([1.0, 0.0]), sample_weight=tf.constant([1.0, 1.0]))
    assert float(mean.result()) == 0.5
    mean.reset_state()
    assert float(mean.seen) == 0.0 and np.isnan(float(mean.result()))


@pytest.mark.parametrize("weak_pass", ["joint", "separate"])
def test_gradient_step_matches_the_formula(weak_pass):
    # One training-mode pass over the three (the paper) or the weak view in
    # its own pass before the tape: the same step for a stateless network.
    ds, (x, y, xu, unl, _) = fixmatch_data()
    model = model_of(threshold=0.3, unlabeled_weight=0.7, weak_pass=weak_pass)
    assert model.weak_pass == weak_pass
    model.compile(keras.optimizers.SGD(0.1))
    model.fit(ds, epochs=1, verbose=0)

    reference = student_model()
    with tf.GradientTape() as tape:
        logits = reference(np.concatenate([x, xu, unl[STRONG]]), training=True)
        lab, weak, strong = logits[:6], logits[6:24], logits[24:]
        probs = tf.nn.softmax(tf.stop_gradient(weak))
        mask = tf.cast(tf.reduce_max(probs, -1) >= 0.3, tf.float32)
        targets = tf.one_hot(tf.argmax(probs, -1), 4)
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(y, lab, from_logits=True)
        ) + 0.7 * tf.reduce_mean(mask * keras.losses.categorical_crossentropy(
            targets, strong, from_logits=True))
    assert 0 < float(tf.reduce_mean(mask)) < 1
    grads = tape.gradient(loss, reference.trainable_variables)
    for var, grad in zip(reference.trainable_variables, grads):
        var.assign(var - 0.1 * grad)
    assert max_difference(model.network.get_weights(), reference.get_weights()) < 1e-6


def test_auto_keeps_one_pass_where_a_training_pass_updates_state():
    # Batch normalization: its statistics come from all three views in one
    # pass, as in the paper; a network without state gets the cheaper
    # separate weak pass.
    assert model_of().weak_pass == "separate"
    keras.utils.set_random_seed(0)
    with_bn = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3),
        keras.layers.BatchNormalization(), keras.layers.Flatten(),
        keras.layers.Dense(4)])
    assert FixMatchModel(with_bn).weak_pass == "joint"
    assert FixMatchModel(with_bn, weak_pass="separate").weak_pass == "separate"


def test_the_separate_weak_pass_is_not_recorded_on_the_tape():
    ds, _ = fixmatch_data()
    x, _ = next(iter(ds))
    model = model_of(weak_pass="separate")
    with tf.GradientTape() as tape:
        prepared = model.before_tape(x)
    assert "weak_logits" in prepared and prepared["weak_logits"].shape == (18, 4)
    assert tape.gradient(tf.reduce_sum(prepared["weak_logits"]),
                         model.network.trainable_variables[0]) is None
    assert "weak_logits" not in model_of(weak_pass="joint").before_tape(x)


# --- FlexMatch and distribution alignment on hand-made statistics --------

def test_flexmatch_beta_normalises_by_the_busiest_class_or_the_unused():
    selected = tf.constant([-1, -1, -1, 0, 0, 1, 2, 2, 2, 2])
    np.testing.assert_allclose(flexmatch_beta(selected, 3), [0.5, 0.25, 1.0])
    # Warm-up: 6 images never selected outweigh the busiest class (2).
    early = tf.constant([-1] * 6 + [0, 0, 1, 2])
    np.testing.assert_allclose(flexmatch_beta(early, 3), [2 / 6, 1 / 6, 1 / 6])
    np.testing.assert_allclose(flexmatch_beta(early, 3, warmup=False),
                               [1.0, 0.5, 0.5])
    # Nothing selected yet: every β is 0, so every threshold is 0.
    np.testing.assert_allclose(flexmatch_beta(tf.constant([-1] * 4), 3), [0, 0, 0])


def test_flexmatch_thresholds_use_the_convex_mapping():
    beta = tf.constant([0.0, 0.5, 1.0])
    np.testing.assert_allclose(flexmatch_thresholds(beta, 0.9),
                               [0.0, 0.9 * 0.5 / 1.5, 0.9], rtol=1e-6)


def test_flexmatch_updates_the_state_then_masks_with_class_thresholds():
    model = model_of(threshold=0.9, flexmatch=True, pool_size=6,
                     threshold_warmup=False)
    # Before: image 5 once reached τ as class 1; the rest never did.
    model.confidence.selected_label.assign([-1, -1, -1, -1, -1, 1])
    weak = logits_with_confidence([0.95, 0.95, 0.92, 0.5, 0.3], [0, 0, 0, 1, 2])
    strong = np.zeros((5, 4), np.float32)
    terms = model.unlabeled_terms(tf.constant(weak), tf.constant(strong),
                                  index=tf.constant([0, 1, 2, 3, 4]))
    # Images 0-2 reached τ = 0.9 as class 0: σ = (3, 1, 0, 0), β = σ / 3.
    np.testing.assert_array_equal(model.confidence.selected_label.numpy(), [0, 0, 0, -1, -1, 1])
    beta = np.array([1.0, 1 / 3, 0.0, 0.0])
    thresholds = 0.9 * beta / (2 - beta)  # 0.9, 0.18, 0, 0
    np.testing.assert_array_equal(terms["mask"], [1, 1, 1, 0.5 >= thresholds[1],
                                                  0.3 >= thresholds[2]])
    assert terms["mask"].numpy().tolist() == [1, 1, 1, 1, 1]


def test_flexmatch_needs_the_pool_indices_and_size():
    with pytest.raises(ValueError, match="pool_size"):
        model_of(flexmatch=True)
    model = model_of(flexmatch=True, pool_size=4)
    with pytest.raises(ValueError, match="unlabeled_index"):
        model.unlabeled_terms(tf.zeros((2, 4)), tf.zeros((2, 4)))


def test_align_distribution_reweights_by_target_over_model():
    probs = tf.constant([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    model_distribution = tf.constant([0.5, 0.25, 0.25])
    target = tf.constant([1 / 3, 1 / 3, 1 / 3])
    out = align_distribution(probs, model_distribution, target).numpy()
    raw = probs.numpy() * (1 / 3) / model_distribution.numpy()
    np.testing.assert_allclose(out, raw / raw.sum(-1, keepdims=True), rtol=1e-5)
    np.testing.assert_allclose(out.sum(-1), [1, 1], rtol=1e-6)


def test_distribution_alignment_moves_the_running_mean_then_aligns():
    model = model_of(threshold=0.0, distribution_alignment=True,
                     alignment_momentum=0.5,
                     target_distribution=[0.7, 0.1, 0.1, 0.1])
    weak = logits_with_confidence([0.9, 0.6], [1, 1])
    terms = model.unlabeled_terms(tf.constant(weak), tf.zeros((2, 4)))
    probs = softmax(weak)
    running = 0.5 * np.full(4, 0.25) + 0.5 * probs.mean(0)
    np.testing.assert_allclose(model.model_distribution.numpy(), running, rtol=1e-5)
    aligned = probs * np.array([0.7, 0.1, 0.1, 0.1]) / running
    aligned /= aligned.sum(-1, keepdims=True)
    np.testing.assert_allclose(terms["probs"], aligned, rtol=1e-4)
    # The labelled distribution favours class 0: the second image's
    # pseudo-label moves there.
    np.testing.assert_array_equal(terms["pseudo_labels"], aligned.argmax(-1))
    assert terms["pseudo_labels"].numpy().tolist() == [1, 0]


# --- the weight average --------------------------------------------------

def test_the_weight_average_follows_its_recurrence_and_is_what_evaluates():
    ds, (x, y, *_) = fixmatch_data(n_labeled=12, n_unlabeled=36)
    model = model_of(threshold=0.5, ema_decay=0.9)
    model.compile(keras.optimizers.SGD(0.05), metrics=["accuracy"])
    expected = [w.copy() for w in model.network.get_weights()]

    class Track(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            for i, w in enumerate(model.network.get_weights()):
                expected[i] = 0.9 * expected[i] + 0.1 * w

    model.fit(ds, epochs=2, verbose=0, callbacks=[Track()])
    averaged = model.averaged_network()
    assert max_difference(averaged.get_weights(), expected) < 1e-6
    assert max_difference(averaged.get_weights(), model.network.get_weights()) > 1e-4
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               averaged.predict(x, verbose=0), atol=1e-5)
    result = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    averaged.compile(loss=keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), metrics=["accuracy"])
    plain = averaged.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    assert result["labeled_loss"] == pytest.approx(plain["loss"], rel=1e-5)
    assert result["accuracy"] == pytest.approx(plain["accuracy"])


def test_without_an_average_the_network_itself_evaluates():
    model = model_of(ema_decay=0.0)
    assert model.averaged_network() is model.network
    assert model.ema_weights == []


def test_state_is_saved_with_the_weights(tmp_path):
    model = model_of(flexmatch=True, pool_size=5, distribution_alignment=True,
                     ema_decay=0.99)
    model.confidence.selected_label.assign([3, -1, 0, 1, 2])
    model.model_distribution.assign([0.4, 0.3, 0.2, 0.1])
    for average in model.ema_weights:
        average.assign(average + 1.0)
    path = str(tmp_path / "fixmatch.weights.h5")
    model.save_weights(path)
    other = model_of(flexmatch=True, pool_size=5, distribution_alignment=True,
                     ema_decay=0.99)
    other.load_weights(path)
    np.testing.assert_array_equal(other.confidence.selected_label.numpy(), [3, -1, 0, 1, 2])
    np.testing.assert_allclose(other.model_distribution.numpy(), [0.4, 0.3, 0.2, 0.1])
    assert max_difference([v.numpy() for v in other.ema_weights],
                          [v.numpy() for v in model.ema_weights]) == 0.0


# --- many devices --------------------------------------------------------

def test_two_replicas_equal_one_device():
    hidden = np.arange(36) % 4

    def run(strategy):
        ds, _ = fixmatch_data(n_labeled=12, n_unlabeled=36, hidden=hidden)
        with strategy.scope():
            model = FixMatchModel(student_model(), unlabeled_weight=1.5,
                                  confidence=FlexMatch(0.3, pool_size=36),
                                  distribution_alignment=True, ema_decay=0.9)
            model.compile(keras.optimizers.SGD(0.05))
        history = model.fit(ds, epochs=2, verbose=0).history
        state = [model.confidence.selected_label.numpy(), model.model_distribution.numpy(),
                 *[v.numpy() for v in model.ema_weights]]
        return history, model.network.get_weights() + state

    assert_two_replicas_equal_one_device(run, KEYS)


@pytest.mark.parametrize("kwargs, message", [
    (dict(threshold=1.5), "threshold"),
    (dict(confidence="flexmatch"), "ConfidenceStrategy"),
    (dict(unlabeled_weight=-1.0), "unlabeled_weight"),
    (dict(ema_decay=1.0), "ema_decay"),
    (dict(alignment_momentum=1.0), "alignment_momentum"),
    (dict(target_distribution=[0.5, 0.5]), "target_distribution"),
    (dict(weak_pass="twice"), "weak_pass"),
])
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        model_of(**kwargs)
