import numpy as np
import pytest

from kzoo.semi_supervised import select_pseudo_labels

PROBS = np.array(
    [
        [0.90, 0.05, 0.05],  # class 0, conf .90
        [0.40, 0.35, 0.25],  # class 0, conf .40
        [0.99, 0.00, 0.01],  # class 0, conf .99
        [0.95, 0.05, 0.00],  # class 0, conf .95
        [0.85, 0.10, 0.05],  # class 0, conf .85
        [0.10, 0.80, 0.10],  # class 1, conf .80
        [0.30, 0.30, 0.40],  # class 2, conf .40
    ],
    dtype=np.float32,
)


def test_threshold_keeps_confident_images_once():
    chosen = select_pseudo_labels(PROBS, threshold=0.8)
    np.testing.assert_array_equal(chosen.repeats, [1, 0, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(chosen.classes, [0, 0, 0, 0, 0, 1, 2])
    np.testing.assert_array_equal(chosen.per_class, [4, 1, 0])
    assert (chosen.num_selected, chosen.num_examples) == (5, 5)


def test_zero_threshold_keeps_everything():
    chosen = select_pseudo_labels(PROBS)
    np.testing.assert_array_equal(chosen.repeats, np.ones(7))


def test_hard_targets_are_one_hot_argmax_and_soft_are_probabilities():
    hard = select_pseudo_labels(PROBS, soft=False)
    np.testing.assert_array_equal(hard.targets, np.eye(3)[[0, 0, 0, 0, 0, 1, 2]])
    soft = select_pseudo_labels(PROBS, soft=True)
    np.testing.assert_array_equal(soft.targets, PROBS)
    np.testing.assert_allclose(soft.confidence, PROBS.max(axis=1))


def test_balance_trims_to_the_most_confident_and_repeats_the_rare():
    # kept at 0.8: class 0 has 4, class 1 has 1, class 2 none -> mean 2.5,
    # rounded (half to even) to 2 per class.
    chosen = select_pseudo_labels(PROBS, threshold=0.8, balance=True)
    # class 0 keeps its two most confident (.99 and .95); class 1's one
    # image is used twice; class 2 stays empty.
    np.testing.assert_array_equal(chosen.repeats, [0, 0, 1, 1, 0, 2, 0])
    np.testing.assert_array_equal(chosen.per_class, [2, 2, 0])
    assert (chosen.num_selected, chosen.num_examples) == (3, 4)


def test_balance_to_an_explicit_count_duplicates_most_confident_first():
    chosen = select_pseudo_labels(PROBS, threshold=0.8, balance=True, per_class=5)
    # class 0: 4 images for 5 slots -> the most confident (.99) twice
    np.testing.assert_array_equal(chosen.repeats, [1, 0, 2, 1, 1, 5, 0])
    np.testing.assert_array_equal(chosen.per_class, [5, 5, 0])


def test_pseudo_label_accuracy_counts_kept_images_with_known_labels():
    chosen = select_pseudo_labels(PROBS, threshold=0.8)
    # kept: 0, 2, 3, 4, 5; image 3's label is unknown; 4 is wrong
    truth = np.array([0, 2, 0, -1, 1, 1, 0])
    assert chosen.accuracy(truth) == pytest.approx(3 / 4)
    assert chosen.accuracy(np.full(7, -1)) is None


def test_nothing_above_threshold_selects_nothing():
    chosen = select_pseudo_labels(PROBS, threshold=1.0, balance=True)
    assert chosen.num_examples == 0
    np.testing.assert_array_equal(chosen.per_class, [0, 0, 0])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"probabilities": PROBS[0]}, r"\[N, classes\]"),
        ({"probabilities": PROBS, "threshold": 1.5}, "threshold"),
        ({"probabilities": PROBS, "balance": True, "per_class": 0}, "per_class"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        select_pseudo_labels(**kwargs)
