import hashlib
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from kzoo.data import batched, load_data
from kzoo.errors import DataError
from kzoo.testing import make_image_folder, write_image


def _hashes(ds):
    return [hashlib.sha1(x.numpy().tobytes()).hexdigest() for x, _ in ds]


def test_digits_default_splits_are_disjoint_and_complete():
    data = load_data("digits", labels_per_class=5, seed=1)
    assert data.class_names == [str(i) for i in range(10)]
    assert data.image_shape == (32, 32, 1)
    counts = data.counts
    assert counts["train"] == 50
    assert sum(counts.values()) == 1797
    assert counts["test"] == pytest.approx(0.2 * 1797, abs=10)
    labels = [int(y) for _, y in data.train]
    assert np.bincount(labels).tolist() == [5] * 10
    assert {int(y) for _, y in data.unlabeled} == {-1}
    x, _ = next(iter(data.train))
    assert x.dtype == "float32" and 0 <= float(np.min(x)) and float(np.max(x)) <= 255


@pytest.mark.large
def test_test_split_does_not_depend_on_run_seed():
    a = load_data("digits", image_size=(8, 8), seed=0)
    b = load_data("digits", image_size=(8, 8), seed=5)
    assert _hashes(a.test) == _hashes(b.test)
    assert _hashes(a.train) != _hashes(b.train)


@pytest.mark.large
def test_folder_with_unlabeled_and_budget_is_disjoint(tmp_path):
    root = make_image_folder(str(tmp_path / "ds"), per_class=8, size=12,
                             splits=("train", "test"), unlabeled=5)
    data = load_data(root, image_size=(12, 12), labels_per_class=3, val_fraction=0)
    assert data.class_names == ["a", "b", "c"]
    assert data.counts == {"train": 9, "val": 0, "test": 24, "unlabeled": 15 + 5}
    train, unl, test = _hashes(data.train), _hashes(data.unlabeled), _hashes(data.test)
    assert len(set(train) | set(unl) | set(test)) == len(train + unl + test)
    assert data.image_shape == (12, 12, 3)
    # hidden labels of the pool in its order: the budget's 5 per class first,
    # then the unknown unlabeled/ files
    hidden = data.unlabeled_labels
    assert len(hidden) == data.counts["unlabeled"]
    np.testing.assert_array_equal(np.bincount(hidden[:15]), [5, 5, 5])
    np.testing.assert_array_equal(hidden[15:], -1)


@pytest.mark.large
def test_folder_without_test_gets_stratified_holdout(tmp_path):
    root = make_image_folder(str(tmp_path / "ds"), per_class=10, size=8)
    data = load_data(root, image_size=(8, 8), val_fraction=0.1)
    # 10 per class: 2 test (20%), then 1 val (10% of 8, rounded), 7 train
    assert data.counts == {"train": 21, "val": 3, "test": 6, "unlabeled": 0}
    assert sorted(int(y) for _, y in data.test) == [0, 0, 1, 1, 2, 2]


def test_flat_class_folder_layout(tmp_path):
    root = make_image_folder(str(tmp_path / "ds"), per_class=5, size=8)
    flat = os.path.join(root, "train")
    data = load_data(flat, image_size=(8, 8), val_fraction=0)
    assert data.class_names == ["a", "b", "c"]
    assert data.counts["train"] + data.counts["test"] == 15


def make_bad_folder(root):
    make_image_folder(root, classes=("cat", "dog"), per_class=6, size=16, fmt="jpg")
    rng = np.random.default_rng(0)
    cat = os.path.join(root, "train", "cat")
    write_image(os.path.join(cat, "gray.png"), rng.integers(0, 255, (16, 16)))
    write_image(os.path.join(cat, "rgba.png"), rng.integers(0, 255, (16, 16, 4)))
    good = open(os.path.join(cat, "0.jpg"), "rb").read()
    with open(os.path.join(cat, "corrupt.jpg"), "wb") as f:
        f.write(good[:20] + bytes(rng.integers(0, 255, len(good) - 20, np.uint8)))
    write_image(os.path.join(root, "train", "dog", "full.png"),
                rng.integers(0, 255, (16, 16, 3)))
    png = open(os.path.join(root, "train", "dog", "full.png"), "rb").read()
    with open(os.path.join(root, "train", "dog", "truncated.png"), "wb") as f:
        f.write(png[: len(png) // 2])
    with open(os.path.join(root, "train", "dog", "notes.txt"), "w") as f:
        f.write("not an image")
    return root


def test_bad_files_are_skipped_and_counted(tmp_path):
    root = make_bad_folder(str(tmp_path / "bad"))
    data = load_data(root, image_size=(16, 16), val_fraction=0)
    skipped = sorted(os.path.basename(p) for p in data.skipped_files)
    assert skipped == ["corrupt.jpg", "notes.txt", "truncated.png"]
    # 6 + 6 jpgs, gray, rgba, full.png: 15 good images, all of them kept
    assert data.counts["train"] + data.counts["test"] == 15
    for x, _ in batched(data.train, 4):
        assert x.shape[1:] == (16, 16, 3)


@pytest.mark.parametrize(
    "setup,match",
    [
        ("empty_class", "has no files"),
        ("no_images", "No decodable images"),
        ("no_classes", "No class folders"),
    ],
)
def test_folder_errors(tmp_path, setup, match):
    root = tmp_path / "ds"
    if setup == "empty_class":
        make_image_folder(str(root), per_class=3, size=8)
        os.makedirs(root / "train" / "empty")
    elif setup == "no_images":
        os.makedirs(root / "train" / "a")
        (root / "train" / "a" / "x.txt").write_text("text")
    else:
        os.makedirs(root / "train")
    with pytest.raises(DataError, match=match):
        load_data(str(root))


def test_unknown_spec_and_budget_errors(tmp_path):
    with pytest.raises(DataError, match="Unknown data spec.*'nope'"):
        load_data("nope")
    with pytest.raises(DataError, match="labels_per_class=500"):
        load_data("digits", labels_per_class=500)


def test_array_data_with_channels_conversion():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (30, 6, 6)).astype("uint8")
    y = np.repeat(np.arange(3), 10)
    data = load_data((x, y), image_size=(6, 6), channels=3, val_fraction=0,
                     class_names=["p", "q", "r"])
    assert data.class_names == ["p", "q", "r"]
    img, _ = next(iter(data.test))
    assert img.shape == (6, 6, 3)
    np.testing.assert_array_equal(img[..., 0], img[..., 2])


def test_tfds_source_with_mock_data():
    with tfds.testing.mock_data(num_examples=40):
        data = load_data("tfds:mnist", image_size=(28, 28), labels_per_class=1,
                         val_fraction=0.25)
        assert data.class_names == [str(i) for i in range(10)]
        assert data.image_shape == (28, 28, 1)
        assert data.counts["test"] == 40
        total = data.counts["train"] + data.counts["val"] + data.counts["unlabeled"]
        assert total == 40
        n_train = sum(1 for _ in data.train)
        assert n_train == data.counts["train"]
        encoded, _ = next(iter(data.test_encoded()))
        assert encoded.dtype == "string"


def test_tfds_not_prepared_offline_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="mnist"):
        load_data("tfds:mnist", data_dir=str(tmp_path))


def test_classes_keep_and_relabel_the_chosen_classes(tmp_path):
    from sklearn.datasets import load_digits

    data = load_data("digits", classes=["7", "5"], val_fraction=0)
    assert data.class_names == ["7", "5"] and data.num_classes == 2
    labels = np.concatenate([y for _, y in data.test.batch(500).as_numpy_iterator()])
    assert set(labels.tolist()) == {0, 1}
    assert data.counts["train"] + data.counts["test"] == np.sum(
        np.isin(load_digits().target, [5, 7]))
    train_labels = np.concatenate([y for _, y in data.train.batch(500).as_numpy_iterator()])
    assert np.bincount(train_labels).min() > 100  # both classes, relabelled 0 and 1
    root = make_image_folder(str(tmp_path / "f"), classes=("a", "b", "c"), per_class=6)
    folder = load_data(root, classes=["c", "a"], val_fraction=0, image_size=(16, 16))
    encoded = [y for _, y in folder.test_encoded().as_numpy_iterator()]
    assert folder.class_names == ["c", "a"] and sorted(encoded) == [0, 1]
    assert folder.counts["train"] + folder.counts["test"] == 12  # b left out
    with pytest.raises(DataError, match="distinct names"):
        load_data("digits", classes=["5", "x"])


@pytest.mark.large
def test_classes_on_tfds_relabel_inside_the_pipeline():
    with tfds.testing.mock_data(num_examples=60):
        full = load_data("tfds:mnist", image_size=(28, 28), val_fraction=0)
        data = load_data("tfds:mnist", image_size=(28, 28), classes=["3", "1"],
                         val_fraction=0)
        full_labels = [y for _, y in full.test_encoded().as_numpy_iterator()]
        labels = [y for _, y in data.test_encoded().as_numpy_iterator()]
        assert sorted(labels) == sorted(
            {3: 0, 1: 1}[y] for y in full_labels if y in (1, 3))
        assert data.counts["test"] == len(labels)


def test_labeled_indices_keep_exactly_those_images_of_the_training_split():
    whole = load_data("digits", seed=3)
    pool = np.stack([x.numpy() for x, _ in whole.train])
    chosen = [0, 7, 100, len(pool) - 1]
    data = load_data("digits", seed=3, labeled_indices=chosen)
    kept = np.stack([x.numpy() for x, _ in data.train])
    np.testing.assert_array_equal(kept, pool[chosen])
    assert data.counts["train"] == 4
    assert data.counts["unlabeled"] == len(pool) - 4
    assert data.counts["val"] == whole.counts["val"]


@pytest.mark.parametrize("bad", [[], [1, 1], [-1], [10**6]])
def test_labeled_indices_out_of_range_or_repeated_are_refused(bad):
    with pytest.raises(DataError, match="labeled_indices"):
        load_data("digits", labeled_indices=bad)


def test_labeled_indices_and_a_budget_exclude_each_other():
    with pytest.raises(DataError, match="not both"):
        load_data("digits", labeled_indices=[1], labels_per_class=2)
