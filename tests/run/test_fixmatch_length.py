"""How long `kzoo fixmatch` runs and what it says about it: a step budget
(--steps) whatever the pool's size, or --epochs passes; the length said
before training; one vocabulary in the log; no validation split said as
such (not Keras's "ran out of data")."""

import csv
import os
import re
import warnings

import pytest

from kzoo import run
from kzoo.run import fixmatch as fm
from kzoo.run.commands.fixmatch import FIXMATCH_STEPS
from kzoo.testing.images import make_image_folder
from tests.run.helpers import kzoo, one_error_line

# 24 steps checked every 12, in graph calls of 4: two checks; mu = 7: a
# pass over the digits pool (1,245 images) is 12 steps.
BUDGET = ("--steps", "24", "--check-every", "12", "--steps-per-execution", "4",
          "--no-jit-compile", "--export", "keras", "--ratio", "7")


def read_log(out):
    with open(os.path.join(out, "training_log.csv")) as f:
        return list(csv.DictReader(f))


@pytest.mark.large
def test_a_step_budget_runs_exactly_its_steps(tmp_path, capsys):
    out = tmp_path / "fm"
    code, printed, err = kzoo(capsys, "fixmatch", "--flexmatch", "--out", out,
                              *BUDGET)
    assert code == 0, err
    # Said before training: the steps, their batches, the pool's epochs.
    assert ("24 steps (--steps) of batches of 16 labelled + 112 unlabelled "
            "images, 2 epochs of the unlabelled pool") in printed, printed
    assert "flexmatch: step 12/24  ETA " in printed
    assert "flexmatch: 24 steps (2 epochs) in " in printed
    rows = read_log(out)
    # One vocabulary: a row is a check, at its step and epoch (passes).
    assert list(rows[0])[:3] == ["check", "step", "epoch"]
    assert [(r["check"], r["step"], r["epoch"]) for r in rows] == [
        ("1", "12", "1.0"), ("2", "24", "2.0")]
    assert run.configure("fixmatch").steps is None  # resolved by the run:
    assert fm.with_length(run.configure("fixmatch")).steps == FIXMATCH_STEPS
    assert fm.with_length(run.configure("fixmatch", epochs=3)).steps is None


@pytest.mark.large
def test_epochs_count_passes_and_exclude_steps(tmp_path, capsys):
    code, _, err = kzoo(capsys, "fixmatch", "--epochs", "3", "--steps", "24",
                        "--out", tmp_path / "x")
    assert code == 2 and "--steps" in one_error_line(err)
    assert not os.path.exists(tmp_path / "x")
    code, printed, err = kzoo(capsys, "fixmatch", "--epochs", "1", "--out",
                              tmp_path / "fm", *BUDGET[2:])
    assert code == 0, err
    assert "12 steps (1 epoch of the unlabelled pool, --epochs)" in printed
    assert "fixmatch: 1 epoch in " in printed


@pytest.mark.large
def test_the_curve_is_titled_with_the_method(tmp_path, monkeypatch):
    titles = []
    monkeypatch.setattr(fm, "plot_lines",
                        lambda *a, title=None, **k: titles.append(title))
    run.run("fixmatch", out=str(tmp_path / "fm"), flexmatch=True, steps=12,
            check_every=12, steps_per_execution=4, jit_compile=False,
            export=["keras"])
    assert titles == ["FlexMatch training"]


@pytest.mark.large
def test_no_validation_split_is_said_not_warned(tmp_path, capsys):
    # One labelled image per class: nothing to spare for validation.
    root = make_image_folder(str(tmp_path / "one"), per_class=1, size=16,
                             splits=("train",), unlabeled=12)
    make_image_folder(root, per_class=2, size=16, splits=("test",))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, printed, err = kzoo(capsys, "fixmatch", "--data", root,
                                  "--input-size", "16", "--out", tmp_path / "fm",
                                  "--steps", "4", "--check-every", "2",
                                  "--steps-per-execution", "2",
                                  "--no-jit-compile", "--export", "keras")
    assert code == 0, err
    said = [str(w.message) for w in caught]
    assert not any("ran out of data" in m for m in said), said
    assert "ran out of data" not in err
    assert "fixmatch: no validation split: the lines below are training " in printed
    assert not re.search(r"val_accuracy \d", printed), printed
