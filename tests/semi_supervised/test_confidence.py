"""Confidence strategies on hand-made probabilities and state: FreeMatch's
threshold recurrence and fairness term, SoftMatch's Gaussian weight, the
state after a reload, and 2 replicas = 1 device."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.run.commands import fixmatch as fixmatch_command
from kzoo.semi_supervised import (
    CONFIDENCE,
    FixedThreshold,
    FixMatchModel,
    FlexMatch,
    FreeMatch,
    SoftMatch,
    get_confidence,
)
from tests.semi_supervised.test_fixmatch import fixmatch_data
from tests.training.helpers import (
    assert_two_replicas_equal_one_device,
    max_difference,
    softmax,
    student_model,
)

P1 = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8],
               [0.4, 0.35, 0.25]], np.float32)
P2 = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1]], np.float32)


def built(strategy, classes=3):
    strategy.build((None, classes))
    return strategy


def test_every_variant_of_the_command_has_a_strategy():
    assert tuple(CONFIDENCE) == fixmatch_command.FIXMATCH_VARIANTS
    assert isinstance(get_confidence("flexmatch", 0.9, pool_size=5), FlexMatch)
    assert get_confidence("fixmatch", 0.8).threshold == 0.8
    with pytest.raises(ValueError, match="Unknown confidence strategy"):
        get_confidence("mixmatch")


# --- FreeMatch -----------------------------------------------------------

def freematch_reference(batches, m, classes=3):
    """τ_t, p̃_t, h̃_t after each batch, and each batch's mask, by the
    paper's recurrence (from 1/C)."""
    tau, p, h = 1 / classes, np.full(classes, 1 / classes), np.full(classes, 1 / classes)
    masks = []
    for probs in batches:
        tau = m * tau + (1 - m) * probs.max(-1).mean()
        p = m * p + (1 - m) * probs.mean(0)
        h = m * h + (1 - m) * np.eye(classes)[probs.argmax(-1)].mean(0)
        masks.append(probs.max(-1) >= tau * (p / p.max())[probs.argmax(-1)])
    return tau, p, h, masks


def test_freematch_threshold_follows_its_recurrence_from_one_over_c():
    strategy = built(FreeMatch(momentum=0.6))
    assert strategy.time_threshold.numpy() == pytest.approx(1 / 3)
    got = [strategy.weigh(tf.constant(b)) for b in (P1, P2)]
    tau, p, h, masks = freematch_reference([P1, P2], 0.6)
    assert strategy.time_threshold.numpy() == pytest.approx(tau, rel=1e-6)
    np.testing.assert_allclose(strategy.class_probs.numpy(), p, rtol=1e-6)
    np.testing.assert_allclose(strategy.label_hist.numpy(), h, rtol=1e-6)
    for (weights, pseudo), mask, probs in zip(got, masks, (P1, P2)):
        np.testing.assert_array_equal(weights.numpy(), mask.astype(np.float32))
        np.testing.assert_array_equal(pseudo.numpy(), probs.argmax(-1))
    # The class the model predicts least gets the lowest threshold.
    thresholds = strategy.thresholds().numpy()
    assert thresholds.argmin() == p.argmin() and thresholds.max() == pytest.approx(tau)


def test_freematch_masks_with_class_scaled_thresholds():
    strategy = built(FreeMatch(momentum=0.0))  # the state is this batch's
    probs = np.array([[0.9, 0.05, 0.05], [0.5, 0.45, 0.05], [0.1, 0.45, 0.45],
                      [0.3, 0.2, 0.5]], np.float32)
    weights, _ = strategy.weigh(tf.constant(probs))
    tau = probs.max(-1).mean()  # 0.6
    p = probs.mean(0)
    expected = probs.max(-1) >= tau * (p / p.max())[probs.argmax(-1)]
    np.testing.assert_array_equal(weights.numpy(), expected)
    # Image 1 (0.5 on class 0, the busiest class) stays below τ; image 2's
    # 0.45 on class 1 passes its lower threshold.
    assert weights.numpy().tolist() == [1, 0, 1, 1]


def fairness_reference(strong_logits, mask, class_probs, label_hist):
    """USB's `entropy_loss` (semilearn/algorithms/freematch/freematch.py),
    in NumPy."""
    selected = strong_logits[mask.astype(bool)]
    prob_s = softmax(selected)
    hist_s = np.bincount(prob_s.argmax(-1), minlength=prob_s.shape[1]).astype(float)
    hist_s = hist_s / hist_s.sum()
    with np.errstate(divide="ignore"):
        scale_model = np.where(np.isinf(1 / label_hist), 0, 1 / label_hist)
        scale_s = np.where(np.isinf(1 / hist_s), 0, 1 / hist_s)
    model = class_probs * scale_model
    model = model / model.sum()
    mean = prob_s.mean(0) * scale_s
    mean = mean / mean.sum()
    return float((model * np.log(mean + 1e-12)).sum())


def test_the_fairness_term_matches_a_hand_written_reference():
    strategy = built(FreeMatch(momentum=0.9))
    strategy.class_probs.assign([0.5, 0.3, 0.2])
    strategy.label_hist.assign([0.6, 0.3, 0.1])
    rng = np.random.default_rng(0)
    strong = rng.normal(0, 2, (6, 3)).astype(np.float32)
    mask = np.array([1, 0, 1, 1, 0, 1], np.float32)
    got = strategy.extra_loss(tf.constant(strong), tf.constant(mask))
    expected = fairness_reference(strong, mask, np.array([0.5, 0.3, 0.2]),
                                  np.array([0.6, 0.3, 0.1]))
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # Nothing selected: no term.
    assert float(strategy.extra_loss(tf.constant(strong), tf.zeros(6))) == 0.0
    # It has a gradient on the strong view.
    strong_var = tf.Variable(strong)
    with tf.GradientTape() as tape:
        loss = strategy.extra_loss(strong_var, tf.constant(mask))
    assert float(tf.reduce_max(tf.abs(tape.gradient(loss, strong_var)))) > 0


def test_freematch_adds_its_weighted_fairness_term_to_the_loss():
    ds, _ = fixmatch_data()
    model = FixMatchModel(student_model(), confidence=FreeMatch(fairness_weight=0.5),
                          ema_decay=0.0)
    model.compile(keras.optimizers.SGD(0.0))
    logs = model.fit(ds, epochs=1, verbose=0).history
    assert np.isfinite(logs["confidence_loss"][0])
    total = (logs["labeled_loss"][0] + logs["unlabeled_loss"][0]
             + 0.5 * logs["confidence_loss"][0])
    assert logs["loss"][0] == pytest.approx(total, rel=1e-5)
    # Without a fairness weight the term is not part of the objective.
    plain = FixMatchModel(student_model(), confidence=FreeMatch(fairness_weight=0.0))
    assert "confidence_loss" not in plain.objective_weights()


# --- SoftMatch -----------------------------------------------------------

def test_softmatch_weight_is_one_at_and_above_the_mean_and_gaussian_below():
    strategy = built(SoftMatch(n_sigma=2.0, alignment=False))
    strategy.mean.assign(0.6)
    strategy.variance.assign(0.04)
    weights = strategy.gaussian(tf.constant([0.6, 0.9, 0.4, 0.2])).numpy()
    below = lambda p: np.exp(-(p - 0.6) ** 2 / (2 * 0.04 / 4))
    np.testing.assert_allclose(weights, [1.0, 1.0, below(0.4), below(0.2)],
                               rtol=1e-5)
    assert 0 < weights[3] < weights[2] < 1


def test_softmatch_state_follows_its_recurrence_after_uniform_alignment():
    strategy = built(SoftMatch(momentum=0.5))
    weights, pseudo = strategy.weigh(tf.constant(P1))
    p_model = 0.5 / 3 + 0.5 * P1.mean(0)
    aligned = P1 * (1 / 3 + 1e-6) / (p_model + 1e-6)
    aligned /= aligned.sum(-1, keepdims=True)
    confidence = aligned.max(-1)
    mean = 0.5 / 3 + 0.5 * confidence.mean()
    variance = 0.5 * 1.0 + 0.5 * confidence.var(ddof=1)
    np.testing.assert_allclose(strategy.class_probs.numpy(), p_model, rtol=1e-6)
    assert strategy.mean.numpy() == pytest.approx(mean, rel=1e-5)
    assert strategy.variance.numpy() == pytest.approx(variance, rel=1e-5)
    expected = np.exp(-np.minimum(confidence - mean, 0) ** 2 / (2 * variance / 4))
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-5)
    # Pseudo-labels are the argmax before the alignment (as USB's).
    np.testing.assert_array_equal(pseudo.numpy(), P1.argmax(-1))


# --- state, configs, many devices ----------------------------------------

@pytest.mark.parametrize("make, names", [
    (lambda: FreeMatch(), ("time_threshold", "class_probs", "label_hist")),
    (lambda: SoftMatch(), ("mean", "variance", "class_probs")),
    (lambda: FlexMatch(0.9, pool_size=5), ("selected_label",)),
])
def test_strategy_state_is_saved_with_the_model_weights(tmp_path, make, names):
    model = FixMatchModel(student_model(), confidence=make())
    for name in names:
        variable = getattr(model.confidence, name)
        variable.assign(variable + tf.ones_like(variable) * 3)
    path = str(tmp_path / "fixmatch.weights.h5")
    model.save_weights(path)
    other = FixMatchModel(student_model(), confidence=make())
    other.load_weights(path)
    for name in names:
        np.testing.assert_array_equal(getattr(other.confidence, name).numpy(),
                                      getattr(model.confidence, name).numpy())


@pytest.mark.parametrize("strategy", [
    FixedThreshold(0.8), FlexMatch(0.7, pool_size=9, warmup=False),
    FreeMatch(momentum=0.99, fairness_weight=0.1),
    SoftMatch(momentum=0.9, n_sigma=3.0, alignment=False),
])
def test_config_round_trip(strategy):
    again = type(strategy).from_config(strategy.get_config())
    assert again.get_config() == strategy.get_config()
    # Every constructor argument is in the config.
    assert {k: v for k, v in again.get_config().items() if k in (
        "threshold", "pool_size", "warmup", "momentum", "fairness_weight",
        "n_sigma", "alignment")} == {k: v for k, v in vars(strategy).items() if k in (
        "threshold", "pool_size", "warmup", "momentum", "fairness_weight",
        "n_sigma", "alignment")}


@pytest.mark.parametrize("kwargs, message", [
    ({"cls": FreeMatch, "momentum": 1.0}, "momentum"),
    ({"cls": FreeMatch, "fairness_weight": -1.0}, "fairness_weight"),
    ({"cls": SoftMatch, "n_sigma": 0.0}, "n_sigma"),
    ({"cls": FlexMatch, "threshold": 0.9}, "pool_size"),
])
def test_invalid_arguments(kwargs, message):
    cls = kwargs.pop("cls")
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize("make", [lambda: FreeMatch(momentum=0.9, fairness_weight=0.5),
                                  lambda: SoftMatch(momentum=0.9)],
                         ids=["freematch", "softmatch"])
def test_two_replicas_equal_one_device(make):
    hidden = np.arange(36) % 4

    def run(strategy):
        ds, _ = fixmatch_data(n_labeled=12, n_unlabeled=36, hidden=hidden)
        with strategy.scope():
            model = FixMatchModel(student_model(), confidence=make(),
                                  unlabeled_weight=1.5, ema_decay=0.9)
            model.compile(keras.optimizers.SGD(0.05))
        history = model.fit(ds, epochs=2, verbose=0).history
        state = [v.numpy() for v in model.confidence.weights]
        return history, model.network.get_weights() + state

    keys = ["loss", "labeled_loss", "unlabeled_loss", "mask_rate"]
    if isinstance(make(), FreeMatch):
        keys.append("confidence_loss")
    assert_two_replicas_equal_one_device(run, keys)


def test_a_strategy_built_once_keeps_its_state_in_a_second_model():
    strategy = FreeMatch()
    FixMatchModel(student_model(), confidence=strategy)
    strategy.time_threshold.assign(0.5)
    strategy.class_probs.assign([0.1, 0.2, 0.3, 0.4])
    again = FixMatchModel(student_model(), confidence=strategy)
    # Not rebuilt: a fresh strategy would start again at 1/C.
    assert again.confidence.time_threshold.numpy() == pytest.approx(0.5)
    fresh = FixMatchModel(student_model(), confidence=FreeMatch())
    assert max_difference([again.confidence.class_probs.numpy()],
                          [fresh.confidence.class_probs.numpy()]) > 0.1
