"""A label budget that does not fit says why (how many images the class has,
how many the test and validation hold-outs took), in Python names for a
Python caller and in flags for the command line; `DataSplits` says how the
validation split was made."""

import numpy as np
import pytest

from kzoo.data import load_data, splits
from kzoo.errors import DataError
from kzoo.testing import make_image_folder


@pytest.fixture(scope="module")
def eight(tmp_path_factory):
    """train/<class>: 8 images each of 4 classes, test/<class>: 2 each."""
    root = str(tmp_path_factory.mktemp("eight") / "ds")
    return make_image_folder(root, classes=("a", "b", "c", "d"), per_class=8,
                             size=8, splits=("train",))


def _with_test(root):
    make_image_folder(root, classes=("a", "b", "c", "d"), per_class=2, size=8,
                      splits=("test",), seed=1)
    return root


@pytest.mark.large
def test_a_budget_over_what_validation_leaves_says_so(eight, tmp_path):
    root = _with_test(make_image_folder(
        str(tmp_path / "ds"), classes=("a", "b", "c", "d"), per_class=8, size=8))
    with pytest.raises(DataError) as err:
        load_data(root, image_size=(8, 8), labels_per_class=8)
    assert str(err.value) == (
        "labels_per_class=8 is more than class 'a' can give: it has 8 training "
        "images, of which 1 is held out for validation (val_fraction=0.1 of "
        "each class, at least 1; val_fraction=0 holds none), leaving 7. Give "
        "at most labels_per_class=7. Received: labels_per_class=8")
    assert err.value.with_flags() == (
        "--labels-per-class 8 is more than class 'a' can give: it has 8 training "
        "images, of which 1 is held out for validation (--val-fraction 0.1 of "
        "each class, at least 1; --val-fraction 0 holds none), leaving 7. Give "
        "at most --labels-per-class 7. Received: --labels-per-class 8")
    # as it says: without the validation hold-out all 8 are there
    data = load_data(root, image_size=(8, 8), labels_per_class=8, val_fraction=0)
    assert data.counts["train"] == 32


def test_the_test_hold_out_is_named_too(eight):
    with pytest.raises(DataError) as err:
        load_data(eight, image_size=(8, 8), labels_per_class=20)
    assert err.value.with_flags().startswith(
        "--labels-per-class 20 is more than class 'a' can give: it has 8 "
        "training images, of which 2 are held out for testing (the data has no "
        "test split: 20% of each class, the same in every run) and 1 for "
        "validation (--val-fraction 0.1 of each class, at least 1; "
        "--val-fraction 0 holds none), leaving 5. Give at most "
        "--labels-per-class 5.")


@pytest.mark.large
def test_the_validation_split_is_described(eight, tmp_path):
    root = _with_test(make_image_folder(
        str(tmp_path / "ds"), classes=("a", "b", "c", "d"), per_class=8, size=8))
    data = load_data(root, image_size=(8, 8))
    assert data.counts["val"] == 4
    assert (data.val_fraction, data.val_pool) == (0.1, 32)
    none = load_data(root, image_size=(8, 8), val_fraction=0)
    assert (none.val, none.val_fraction, none.val_pool) == (None, None, 0)
    make_image_folder(root, classes=("a", "b", "c", "d"), per_class=3, size=8,
                      splits=("val",), seed=2)
    own = load_data(root, image_size=(8, 8))
    assert own.counts["val"] == 12
    assert (own.val_fraction, own.val_pool) == (None, 0)


@pytest.mark.parametrize("kwargs,python,flags", [
    ({"labels_per_class": 2, "label_fraction": 0.5},
     ("Give either labels_per_class or label_fraction, not both. Received: "
      "labels_per_class=2, label_fraction=0.5"),
     ("Give either --labels-per-class or --label-fraction, not both. Received: "
      "--labels-per-class 2, --label-fraction 0.5")),
    ({"labels_per_class": 0},
     "labels_per_class must be a positive integer. Received: labels_per_class=0",
     ("--labels-per-class must be a positive integer. Received: "
      "--labels-per-class 0")),
    ({"label_fraction": 1.5},
     "label_fraction must be in (0, 1]. Received: label_fraction=1.5",
     "--label-fraction must be in (0, 1]. Received: --label-fraction 1.5"),
    ({"val_fraction": 1.0},
     ("val_fraction must be in [0, 1) (0: no validation split). Received: "
      "val_fraction=1.0"),
     ("--val-fraction must be in [0, 1) (0: no validation split). Received: "
      "--val-fraction 1.0")),
])
def test_option_errors_name_options_both_ways(kwargs, python, flags):
    with pytest.raises(DataError) as err:
        load_data("no-such-folder", **kwargs)  # refused before the data is read
    assert (str(err.value), err.value.with_flags()) == (python, flags)
    if "val_fraction" not in kwargs:
        with pytest.raises(splits.OptionError, match="Received"):
            splits.check_budget(**kwargs)


def test_label_budget_alone_keeps_python_names():
    with pytest.raises(DataError, match=r"^labels_per_class=3 is more than class "
                                        r"'b' holds .* \(2 images\)\. Received: "
                                        r"labels_per_class=3$"):
        splits.label_budget(np.array([0, 0, 0, 1, 1]), ["a", "b"], seed=0,
                     labels_per_class=3)


def test_unknown_classes_are_named_as_the_caller_gave_them():
    with pytest.raises(DataError) as err:
        load_data("digits", classes=["5", "x"])
    assert str(err.value).endswith("Received: classes=['5', 'x']")
    assert err.value.with_flags().endswith("Received: --classes 5,x")
