"""Confident learning on hand-made out-of-fold probabilities, and
near-duplicates across classes."""

import numpy as np
import pytest

from kzoo import audit
from kzoo.audit import duplicates

# Two classes; image 4 is labelled 1 but looks like a confident 0.
P = np.array([[.9, .1], [.8, .2], [.3, .7], [.2, .8], [.85, .15]])
Y = np.array([0, 0, 1, 1, 1])


def test_thresholds_are_the_mean_probability_of_each_given_class():
    np.testing.assert_allclose(audit.class_thresholds(P, Y), [.85, .55])
    # a class no image is given: no probability reaches its threshold
    assert audit.class_thresholds(P, np.zeros(5, int))[1] > 1


def test_confident_joint_counts_then_calibrates_to_the_given_counts():
    # image 1 reaches no threshold; image 4 reaches only class 0's
    np.testing.assert_array_equal(
        audit.confident_joint(P, Y, calibrate=False), [[1, 0], [1, 2]])
    calibrated = audit.confident_joint(P, Y)
    np.testing.assert_array_equal(calibrated, [[2, 0], [1, 2]])
    np.testing.assert_array_equal(calibrated.sum(axis=1), np.bincount(Y))


@pytest.mark.parametrize("filter_by", audit.FILTERS)
def test_the_off_diagonal_image_is_found(filter_by):
    assert audit.num_label_issues(P, Y) == 1
    np.testing.assert_array_equal(audit.find_label_issues(P, Y, filter_by), [4])


@pytest.mark.parametrize("filter_by", audit.FILTERS)
def test_an_image_predicted_as_its_label_is_never_flagged(filter_by):
    p = P.copy()
    p[4] = [.5, .5]  # a tie with the given label keeps it
    assert 4 not in audit.find_label_issues(p, Y, filter_by)
    assert audit.num_label_issues(p, Y) == 0


@pytest.mark.parametrize("filter_by", audit.FILTERS)
def test_a_worked_example(filter_by):
    """Thresholds: class 0 .625 (mean of .9 .95 .35 .3), class 1 .633 (of
    .55 .7 .65). Images 2 and 3, labelled 0, reach class 1's: two errors,
    the less trusted (3) first. Image 4, labelled 1 at p1 = .55, reaches no
    threshold: never counted, though its label is as doubtful."""
    p = np.array([[.9, .1], [.95, .05], [.35, .65], [.3, .7], [.45, .55],
                  [.3, .7], [.35, .65]])
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    assert audit.num_label_issues(p, y) == 2
    np.testing.assert_array_equal(audit.confident_joint(p, y), [[2, 2], [0, 3]])
    np.testing.assert_array_equal(audit.find_label_issues(p, y, filter_by), [3, 2])
    with pytest.raises(ValueError, match="filter_by"):
        audit.find_label_issues(p, y, "nonsense")


@pytest.mark.parametrize("filter_by", audit.FILTERS)
def test_clean_predictions_find_exactly_the_flipped_labels_ranked(filter_by):
    rng = np.random.default_rng(0)
    true = rng.integers(0, 5, 400)
    confidence = rng.uniform(0.9, 0.99, 400)  # each above every threshold
    p = np.tile(((1 - confidence) / 4)[:, None], (1, 5))
    p[np.arange(400), true] = confidence
    given = true.copy()
    flipped = rng.choice(400, 40, replace=False)
    given[flipped] = (true[flipped] + rng.integers(1, 5, 40)) % 5
    issues = audit.find_label_issues(p, given, filter_by)
    assert sorted(issues) == sorted(flipped)
    trust = audit.self_confidence(p, given)[issues]
    assert np.all(np.diff(trust) >= 0)  # the least trusted label first


@pytest.mark.parametrize("p, y", [(P, Y[:4]), (P[0], Y), (P, Y + 1)])
def test_bad_shapes_and_labels_are_refused(p, y):
    with pytest.raises(ValueError, match="Expected|labels must be"):
        audit.find_label_issues(p, y)


def test_duplicates_across_classes_only_most_similar_first(monkeypatch):
    monkeypatch.setattr(duplicates, "CHUNK", 3)  # several blocks
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 16))
    x[5] = x[1] * 2.0            # the same image (scaled), another class
    x[6] = x[2] + 0.05 * rng.normal(size=16)  # nearly the same, another class
    x[7] = x[3]                  # the same, the same class: not an issue
    y = np.array([0, 0, 1, 1, 2, 1, 0, 1])
    pairs, sims = audit.cross_class_duplicates(x, y, threshold=0.98)
    assert pairs.tolist() == [[1, 5], [2, 6]]
    assert sims[0] == pytest.approx(1.0, abs=1e-5) and 0.98 <= sims[1] < sims[0]
    none, _ = audit.cross_class_duplicates(x, y, threshold=1.01)
    assert none.shape == (0, 2)
