"""A file whose name is not UTF-8 (bytes the file system holds but no text
encodes) is read by its bytes, and shown with `\\xNN` escapes wherever kzoo
prints or writes its path: `kzoo predict` and `load_data` do not abort."""

import csv
import os

import numpy as np
import pytest

from kzoo.data import batched, load_data
from kzoo.data.images import NOT_DECODABLE
from kzoo.testing import make_image_folder, write_image
from tests.data.helpers import write_bytes
from tests.run.helpers import kzoo, saved_lenet

IMAGE = os.fsdecode(b"\xff.png")  # '\udcff.png': Python's name for it
TEXT = os.fsdecode(b"notes\xfe.txt")


def _pixels(seed, size=12):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), np.uint8)


def test_predict_reads_and_writes_names_that_are_not_utf8(tmp_path, capsys):
    folder = tmp_path / "new"
    folder.mkdir()
    write_image(folder / "a.png", _pixels(0))
    write_image(os.path.join(folder, IMAGE), _pixels(1))
    write_bytes(os.path.join(folder, TEXT), b"not an image")
    model = saved_lenet(tmp_path / "lenet.keras", num_classes=3)
    out = tmp_path / "predictions.csv"
    code, printed, err = kzoo(capsys, "predict", "--model", model, "--data",
                              folder, "--out", out)
    assert code == 0, err
    with open(out, newline="", encoding="utf-8") as f:
        rows = {os.path.relpath(r["path"], folder): r for r in csv.DictReader(f)}
    assert sorted(rows) == ["\\xff.png", "a.png", "notes\\xfe.txt"]
    assert rows["\\xff.png"]["class_1"] and not rows["\\xff.png"]["error"]
    assert rows["notes\\xfe.txt"]["error"] == NOT_DECODABLE
    assert f"skipped: {folder}{os.sep}notes\\xfe.txt: {NOT_DECODABLE}" in printed
    assert "predicted 2 images; skipped 1 file:" in printed


@pytest.mark.large
def test_load_data_reads_names_that_are_not_utf8(tmp_path):
    root = make_image_folder(str(tmp_path / "ds"), classes=("a", "b"), per_class=3,
                             size=8, unlabeled=2)
    write_image(os.path.join(root, "train", "a", IMAGE), _pixels(2, 8))
    write_image(os.path.join(root, "unlabeled", "batch1", IMAGE), _pixels(3, 8))
    write_bytes(os.path.join(root, "unlabeled", TEXT), b"not an image")
    data = load_data(root, image_size=(8, 8), val_fraction=0, test_fraction=0.25)
    assert data.counts == {"train": 5, "val": 0, "test": 2, "unlabeled": 3}
    shown = os.path.join(root, "unlabeled", "notes\\xfe.txt")
    assert data.skipped_files == [shown]
    assert data.skipped_reasons == {shown: NOT_DECODABLE}
    pool = np.stack([x for x, _ in data.unlabeled.as_numpy_iterator()])
    assert pool.shape == (3, 8, 8, 3)
    assert any(np.array_equal(x, _pixels(3, 8)) for x in pool)
    labelled = np.concatenate([x for x, _ in batched(data.train, 8).as_numpy_iterator()]
                              + [x for x, _ in batched(data.test, 8).as_numpy_iterator()])
    assert any(np.array_equal(x, _pixels(2, 8)) for x in labelled)
