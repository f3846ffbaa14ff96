"""The folder layout is said where it goes wrong: a folder without class
folders shows it; the pool may be spelt unlabeled/ or unlabelled/ (never a
class), but not both; val/ or test/ without train/ is refused."""

import os

import numpy as np
import pytest

from kzoo.data import load_data
from kzoo.errors import DataError
from kzoo.testing import make_image_folder, write_image


def _pool(root, name, n):
    rng = np.random.default_rng(0)
    folder = os.path.join(root, name, "batch")
    os.makedirs(folder, exist_ok=True)
    for i in range(n):
        write_image(os.path.join(folder, f"u{i}.png"), rng.integers(0, 255, (8, 8, 3)))


def test_a_folder_without_class_folders_shows_the_layout(tmp_path):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(4):
        write_image(str(flat / f"{i}.png"), np.zeros((8, 8, 3)))
    with pytest.raises(DataError) as err:
        load_data(str(flat))
    message = str(err.value)
    assert f"No class folders found in {flat}." in message
    for part in ("DIR/train/<class>/*", "DIR/val/<class>/*", "DIR/test/<class>/*",
                 "DIR/unlabeled/**", "unlabelled/", "DIR/<class>/* alone"):
        assert part in message
    assert message.endswith(f"Received: {flat} holds 4 files and no folders")
    assert len(message.splitlines()) == 1  # the CLI shows the first line only


@pytest.mark.parametrize("train_folder", [True, False])
def test_unlabelled_is_the_pool_in_either_layout(tmp_path, train_folder):
    root = make_image_folder(str(tmp_path / "ds"), classes=("a", "b"), per_class=5,
                             size=8)
    if not train_folder:
        root = os.path.join(root, "train")  # DIR/<class>/*
    _pool(root, "unlabelled", 3)
    data = load_data(root, image_size=(8, 8), val_fraction=0)
    assert data.class_names == ["a", "b"]
    assert data.counts["unlabeled"] == 3
    np.testing.assert_array_equal(data.unlabeled_labels, [-1, -1, -1])


def test_both_spellings_of_the_pool_are_refused(tmp_path):
    root = make_image_folder(str(tmp_path / "ds"), classes=("a", "b"), per_class=3,
                             size=8)
    _pool(root, "unlabeled", 1)
    _pool(root, "unlabelled", 1)
    with pytest.raises(DataError, match="has both unlabeled/ and unlabelled/"):
        load_data(root)


def test_val_or_test_beside_flat_class_folders_is_refused(tmp_path):
    root = make_image_folder(str(tmp_path / "ds"), classes=("a", "b"), per_class=3,
                             size=8, splits=("train", "test"))
    for cls in ("a", "b"):  # DIR/<class>/* beside DIR/test/<class>/*
        os.rename(os.path.join(root, "train", cls), os.path.join(root, cls))
    os.rmdir(os.path.join(root, "train"))
    with pytest.raises(DataError, match=r"has test/ but no train/: expected the "
                                        r"training classes in .*/train/<class>/"):
        load_data(root)
