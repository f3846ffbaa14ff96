"""What a run trains on: data, budgets and policies are checked before
anything is written; a user's labels are never dropped silently."""

import json
import os

import pytest

from kzoo import run
from kzoo.run import configure, inputs
from kzoo.testing import make_image_folder
from tests.run.helpers import FAST, kzoo, one_error_line


def _error_case(kind, tmp_path):
    if kind == "unknown_spec":
        return ["--data", "no-such-data"], "Unknown data spec"
    if kind == "budget":
        return ["--labels-per-class", "1000"], "--labels-per-class 1000"
    if kind == "augment":
        return ["--augment", "crop,blur"], "unknown augmentation 'blur'; valid names:"
    root = tmp_path / "ds"
    if kind == "single_class":
        make_image_folder(str(root), classes=("only",), per_class=4, size=8)
        return ["--data", root], "at least 2 classes"
    if kind == "empty_class":
        make_image_folder(str(root), per_class=3, size=8)
        os.makedirs(root / "train" / "empty")
        return ["--data", root], "has no files"
    os.makedirs(root / "train" / "a")
    (root / "train" / "a" / "x.txt").write_text("text")
    return ["--data", root], "No decodable images"


@pytest.mark.parametrize("kind", ["unknown_spec", "budget", "augment",
                                  "single_class", "empty_class", "no_images"])
def test_errors_give_one_line_and_write_nothing(kind, tmp_path, capsys):
    args, match = _error_case(kind, tmp_path)
    out = tmp_path / "run"
    code, _, err = kzoo(capsys, "train", *args, "--out", out)
    assert code == 2
    assert match in one_error_line(err)
    assert not out.exists()


@pytest.fixture(scope="module")
def labelled_folder(tmp_path_factory):
    """train/<class> with 12 images each, test/<class> 4 each, 20 unlabelled."""
    root = str(tmp_path_factory.mktemp("own") / "data")
    return make_image_folder(root, classes=("a", "b", "c"), per_class=12, size=16,
                             splits=("train", "test"), unlabeled=20)


@pytest.mark.large
@pytest.mark.parametrize("command", ["pseudo-label", "noisy-student"])
def test_a_users_labels_are_all_used(command, labelled_folder, tmp_path, capsys):
    out = str(tmp_path / "run")
    rounds = dict(rounds=1) if command == "noisy-student" else {}
    capsys.readouterr()
    result = run.run(command, data=labelled_folder, input_size=16, smoke=True,
                     out=out, **rounds, **FAST)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("labels: every labelled training image")
    counts = json.load(open(os.path.join(out, "smoke", "config.json")))["counts"]
    # of each class's 12: 1 to validation, 11 labelled; the pool is unlabeled/
    assert (counts["val"], counts["train"], counts["unlabeled"]) == (3, 33, 20)
    assert result.out == os.path.join(out, "smoke")


def test_the_demo_budget_is_for_the_bundled_digits_only(labelled_folder, capsys):
    capsys.readouterr()
    digits = inputs.demo_budget(configure("pseudo-label"), 5)
    assert digits.labels_per_class == 5
    assert "the demo budget of the bundled digits" in capsys.readouterr().out
    for command in ("pseudo-label", "search"):
        folder = inputs.demo_budget(configure(command, data=labelled_folder), 10)
        assert folder.labels_per_class is None and folder.label_fraction is None
        assert capsys.readouterr().out.startswith(
            "labels: every labelled training image")
    # A budget the user gives is kept, on the digits too.
    given = inputs.demo_budget(configure("pseudo-label", labels_per_class=7), 5)
    assert given.labels_per_class == 7
    assert "7 per class (--labels-per-class)" in capsys.readouterr().out
    fraction = inputs.demo_budget(configure("pseudo-label", label_fraction=0.5), 5)
    assert (fraction.labels_per_class, fraction.label_fraction) == (None, 0.5)
    assert "0.5 of each class (--label-fraction)" in capsys.readouterr().out


def test_the_input_size_is_the_models_unless_given():
    assert inputs.input_size(configure("train")) == 32
    assert inputs.input_size(configure("train", model="alexnet")) == 227
    assert inputs.input_size(configure("train", model="alexnet", input_size=64)) == 64
