"""What a run says about its data: the channels and where they come from,
how the validation split was made and what it can tell, the folder layout
where a folder is not one, and a label budget that does not fit, in flags."""

import contextlib
import io
import os

import numpy as np
import pytest

from kzoo import cli
from kzoo.testing import write_image
from tests.run.helpers import SMOKE_FLAGS, kzoo, one_error_line

CLASSES = ("a", "b", "c", "d")


def _grey_folder(root, per_class=8, test=2):
    """train/<class>: `per_class` grey PNGs each of 4 classes; test/: `test`."""
    rng = np.random.default_rng(0)
    for split, n in (("train", per_class), ("test", test)):
        for cls in CLASSES:
            folder = os.path.join(root, split, cls)
            os.makedirs(folder, exist_ok=True)
            for i in range(n):
                write_image(os.path.join(folder, f"{i}.png"),
                            rng.integers(0, 255, (8, 8)))
    return root


def _printed(*argv):
    """What `kzoo *argv` prints on stdout, and its exit status."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue()


@pytest.fixture(scope="module")
def grey_run(tmp_path_factory):
    """4 classes of 8 grey training images and 2 test images: the folder and
    what `kzoo train --smoke` printed on it (and with --channels 3
    --val-fraction 0)."""
    tmp = tmp_path_factory.mktemp("grey")
    root = _grey_folder(str(tmp / "data"))
    out = str(tmp / "run")
    code, printed = _printed("train", "--data", root, "--out", out, *SMOKE_FLAGS)
    assert code == 0
    code, converted = _printed("train", "--data", root, "--channels", "3",
                               "--val-fraction", "0", "--out", out, *SMOKE_FLAGS)
    assert code == 0
    return root, printed.splitlines(), converted.splitlines()


@pytest.mark.large
def test_a_grey_folder_trains_on_one_channel_and_says_why(grey_run):
    _, printed, converted = grey_run
    data_line = next(line for line in printed if line.startswith("data "))
    assert "shape (32, 32, 1) (grey, the data's own; --channels 3 for RGB)" in data_line
    data_line = next(line for line in converted if line.startswith("data "))
    assert "shape (32, 32, 3) (grey images repeated into RGB)" in data_line


def test_the_validation_split_is_said_up_front(grey_run):
    _, printed, converted = grey_run
    line = ("validation: 4 of the 32 labelled training images, held out before "
            "any label budget (--val-fraction 0.1 of each class, at least 1; "
            "--val-fraction 0 for none); val_accuracy on 4 images moves in steps "
            "of 25% (one image)")
    assert line in printed
    # before training: right after the data line
    assert printed.index(line) == 1 + next(
        i for i, text in enumerate(printed) if text.startswith("data "))
    assert ("validation: none (--val-fraction 0; the data has no val split): "
            "no val_loss or val_accuracy") in converted


def test_a_budget_that_does_not_fit_names_flags_and_the_hold_out(grey_run, capsys,
                                                                 tmp_path):
    root = grey_run[0]
    out = tmp_path / "run"
    code, _, err = kzoo(capsys, "fixmatch", "--data", root, "--labels-per-class",
                        "20", "--out", out, *SMOKE_FLAGS)
    assert code == 2
    line = one_error_line(err)
    assert line == (
        "error: --labels-per-class 20 is more than class 'a' can give: it has 8 "
        "training images, of which 1 is held out for validation (--val-fraction "
        "0.1 of each class, at least 1; --val-fraction 0 holds none), leaving 7. "
        "Give at most --labels-per-class 7. Received: --labels-per-class 20")
    assert "labels_per_class" not in line and not out.exists()


def test_a_folder_without_class_folders_shows_the_layout(tmp_path, capsys):
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        write_image(str(flat / f"{i}.png"), np.zeros((8, 8)))
    code, _, err = kzoo(capsys, "fixmatch", "--data", flat, "--out",
                        tmp_path / "run", *SMOKE_FLAGS)
    assert code == 2
    line = one_error_line(err)
    assert line.startswith(f"error: No class folders found in {flat}. Expected the "
                           "layout DIR/train/<class>/* (one folder of images per "
                           "class), optional DIR/val/<class>/*")
    assert line.endswith(f"Received: {flat} holds 3 files and no folders")


def test_the_data_help_shows_the_folder_layout(capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["fixmatch", "--help"])
    assert done.value.code == 0
    printed = capsys.readouterr().out
    start = printed.index("  --data DATA")
    text = " ".join(printed[start:printed.index("  --data-dir")].split())
    assert ("a folder DIR laid out as DIR/train/<class>/*.png|jpg|... with "
            "optional DIR/val/<class>/, DIR/test/<class>/ and DIR/unlabeled/** "
            "(or unlabelled/); or DIR/<class>/* alone") in text


def test_unknown_classes_are_named_by_the_flag(tmp_path, capsys):
    code, _, err = kzoo(capsys, "train", "--data", "digits", "--classes", "5,x",
                        "--out", tmp_path / "run", *SMOKE_FLAGS)
    assert code == 2
    assert one_error_line(err) == (
        "error: Classes must be distinct names among ['0', '1', '2', '3', '4', "
        "'5', '6', '7', '8', '9']. Received: --classes 5,x")
