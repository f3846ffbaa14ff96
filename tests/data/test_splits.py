import numpy as np
import pytest

from kzoo.data.splits import label_budget, stratified_split
from kzoo.errors import DataError

LABELS = np.repeat(np.arange(3), [10, 20, 5])
NAMES = ["a", "b", "c"]


def test_stratified_split_is_disjoint_stratified_and_seeded():
    kept, held = stratified_split(LABELS, 0.2, seed=3)
    assert len(np.intersect1d(kept, held)) == 0
    assert len(kept) + len(held) == len(LABELS)
    assert np.bincount(LABELS[held]).tolist() == [2, 4, 1]
    again, _ = stratified_split(LABELS, 0.2, seed=3)
    other, _ = stratified_split(LABELS, 0.2, seed=4)
    np.testing.assert_array_equal(kept, again)
    assert not np.array_equal(kept, other)


def test_labels_per_class_budget():
    labelled, rest = label_budget(LABELS, NAMES, seed=0, labels_per_class=4)
    assert np.bincount(LABELS[labelled]).tolist() == [4, 4, 4]
    assert len(np.intersect1d(labelled, rest)) == 0
    assert len(labelled) + len(rest) == len(LABELS)


def test_label_fraction_budget_keeps_at_least_one():
    labelled, _ = label_budget(LABELS, NAMES, seed=0, label_fraction=0.1)
    assert np.bincount(LABELS[labelled]).tolist() == [1, 2, 1]


def test_no_budget_keeps_everything():
    labelled, rest = label_budget(LABELS, NAMES, seed=0)
    assert len(labelled) == len(LABELS) and len(rest) == 0


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(labels_per_class=6), "labels_per_class=6 is more than class 'c'"),
        (dict(labels_per_class=2, label_fraction=0.5), "not both"),
        (dict(label_fraction=1.5), "label_fraction"),
        (dict(labels_per_class=0), "positive"),
    ],
)
def test_budget_errors(kwargs, match):
    with pytest.raises(DataError, match=match):
        label_budget(LABELS, NAMES, seed=0, **kwargs)
