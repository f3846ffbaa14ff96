"""A careless or hostile image folder never exhausts memory, hangs the scan or
is silently scored on part of its images."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow_datasets as tfds

from kzoo.data import load_data
from kzoo.data.images import MAX_IMAGE_PIXELS, NOT_DECODABLE
from kzoo.errors import DataError
from kzoo.testing import make_image_folder, write_image
from tests.data.helpers import png_declaring, unreadable, write_bytes


def _folder(tmp_path, **kwargs):
    kwargs = dict(classes=("a", "b"), per_class=4, size=16, **kwargs)
    return make_image_folder(str(tmp_path / "ds"), **kwargs)


def test_image_declaring_too_many_pixels_is_skipped_with_its_reason(tmp_path):
    root = _folder(tmp_path)
    huge = write_bytes(os.path.join(root, "train", "a", "huge.png"),
                       png_declaring(23000, 23000))
    data = load_data(root, image_size=(16, 16), val_fraction=0)
    assert data.skipped_files == [huge]
    assert data.skipped_reasons == {huge: (
        f"declares 23000x23000 pixels (height x width), over the limit of "
        f"{MAX_IMAGE_PIXELS} pixels (max_image_pixels); it was not decoded")}
    assert data.counts["train"] + data.counts["test"] == 8


def test_max_image_pixels_is_the_limit(tmp_path):
    root = _folder(tmp_path)
    big = os.path.join(root, "train", "b", "big.png")
    write_image(big, np.zeros((17, 16, 3)))
    at_limit = load_data(root, image_size=(16, 16), val_fraction=0,
                         max_image_pixels=17 * 16)
    assert at_limit.skipped_files == []
    below = load_data(root, image_size=(16, 16), val_fraction=0,
                      max_image_pixels=17 * 16 - 1)
    assert below.skipped_files == [big]
    assert "declares 17x16 pixels" in below.skipped_reasons[big]
    with pytest.raises(ValueError, match="Received: max_image_pixels=0"):
        load_data(root, max_image_pixels=0)


def test_files_too_large_for_any_image_in_the_limit_are_not_read(tmp_path):
    root = _folder(tmp_path)
    video = os.path.join(root, "train", "a", "clip.mp4")
    with open(video, "wb") as f:
        f.truncate(16 * 2**20 + 9 * 256 + 1)  # sparse: no disk, no read
    data = load_data(root, image_size=(16, 16), val_fraction=0,
                     max_image_pixels=256)
    assert data.skipped_files == [video]
    assert data.skipped_reasons[video].startswith(f"{16 * 2**20 + 9 * 256 + 1} bytes")


# Run in a child with a deadline and a memory cap: a regression that reads a
# named pipe (blocks forever) or /dev/zero (reads until memory runs out) must
# fail this test, not hang the suite or the machine.
_SCAN_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, 8 * 2**30))
    from kzoo.data import load_data
    data = load_data(sys.argv[1], image_size=(16, 16), val_fraction=0)
    print(json.dumps({"counts": data.counts, "reasons": data.skipped_reasons}))
""")


@pytest.mark.large
def test_only_regular_files_are_read_and_the_scan_never_blocks(tmp_path):
    root = _folder(tmp_path, unlabeled=2)
    cls = os.path.join(root, "train", "a")
    os.mkfifo(os.path.join(cls, "pipe.png"))
    os.symlink("/dev/zero", os.path.join(cls, "zero.png"))
    os.symlink(os.path.join(cls, "missing.png"), os.path.join(cls, "dangling.png"))
    os.symlink(os.path.join(cls, "0.png"), os.path.join(cls, "link.png"))
    os.symlink(root, os.path.join(cls, "loop"))  # a folder link back to the root
    os.mkfifo(os.path.join(root, "unlabeled", "batch1", "pipe.jpg"))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", _SCAN_SCRIPT, root], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    reasons = {os.path.relpath(p, root): r for p, r in out["reasons"].items()}
    assert reasons == {
        "train/a/dangling.png": "a broken symbolic link (No such file or directory)",
        "train/a/loop": "a symbolic link to a folder (links are not followed)",
        "train/a/pipe.png": "not a regular file (a named pipe)",
        "train/a/zero.png": "not a regular file (a character device)",
        "unlabeled/batch1/pipe.jpg": "not a regular file (a named pipe)",
    }
    # the link to a regular image is followed: 4 + 1 images of a, 4 of b
    assert out["counts"]["train"] + out["counts"]["test"] == 9
    assert out["counts"]["unlabeled"] == 2


@pytest.mark.large
@pytest.mark.parametrize("folder", ["test/b", "val/a", "test", "train/a/sub"])
def test_an_unreadable_labelled_folder_is_an_error(tmp_path, monkeypatch, folder):
    root = _folder(tmp_path, splits=("train", "val", "test"))
    os.makedirs(os.path.join(root, "train", "a", "sub"))
    write_image(os.path.join(root, "train", "a", "sub", "x.png"), np.zeros((8, 8)))
    path = os.path.join(root, folder)
    with unreadable(monkeypatch, path), pytest.raises(
        DataError, match="must be readable"
    ) as info:
        load_data(root, image_size=(16, 16))
    assert path in str(info.value) and "Received: Permission denied" in str(info.value)


@pytest.mark.large
def test_an_unreadable_unlabeled_folder_is_skipped_and_counted(tmp_path, monkeypatch):
    root = _folder(tmp_path, unlabeled=3)
    os.makedirs(os.path.join(root, "unlabeled", "batch2"))
    write_image(os.path.join(root, "unlabeled", "batch2", "u.png"), np.zeros((8, 8)))
    batch1 = os.path.join(root, "unlabeled", "batch1")
    with unreadable(monkeypatch, batch1):
        data = load_data(root, image_size=(16, 16), val_fraction=0)
    assert data.skipped_reasons == {batch1: "unreadable folder (Permission denied)"}
    assert data.skipped_files == [batch1]
    assert data.counts["unlabeled"] == 1


@pytest.mark.large
def test_a_test_split_may_lack_a_class(tmp_path):
    root = _folder(tmp_path, splits=("train", "test"))
    for name in os.listdir(os.path.join(root, "test", "b")):
        os.remove(os.path.join(root, "test", "b", name))
    data = load_data(root, image_size=(16, 16), val_fraction=0)
    assert data.counts["test"] == 4 and data.skipped_files == []
    assert sorted(int(y) for _, y in data.test) == [0, 0, 0, 0]


def _one_class_spec(kind, tmp_path):
    x = np.zeros((12, 8, 8), np.uint8)
    if kind == "folder":
        return make_image_folder(str(tmp_path / "one"), classes=("a",), size=8), {}
    if kind == "arrays":
        return (x, np.zeros(12, int)), {}
    if kind == "arrays_one_present":
        return (x, np.zeros(12, int)), {"class_names": ["a", "b"]}
    if kind == "folder_classes":
        return make_image_folder(str(tmp_path / "f"), size=8), {"classes": ["c"]}
    return "digits", {"classes": ["5"]}


@pytest.mark.parametrize("kind", ["folder", "arrays", "arrays_one_present",
                                  "folder_classes", "digits_classes"])
def test_fewer_than_two_classes_is_an_error(tmp_path, kind):
    spec, kwargs = _one_class_spec(kind, tmp_path)
    with pytest.raises(DataError, match=r"at least 2 classes.*Received: class_names="):
        load_data(spec, image_size=(8, 8), **kwargs)


def test_fewer_than_two_classes_from_tfds_is_an_error():
    with tfds.testing.mock_data(num_examples=20), pytest.raises(
        DataError, match=r"at least 2 classes.*\['3'\]"
    ):
        load_data("tfds:mnist", image_size=(28, 28), classes=["3"])


def test_not_decodable_reason_is_recorded(tmp_path):
    root = _folder(tmp_path)
    notes = write_bytes(os.path.join(root, "train", "b", "notes.txt"), b"text")
    data = load_data(root, image_size=(16, 16), val_fraction=0)
    assert data.skipped_reasons == {notes: NOT_DECODABLE}
