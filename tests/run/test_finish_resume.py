"""A run killed after training (in the test, the plots, the export, or
between two phases) keeps its backups: the same command restores the
finished weights, trains nothing, writes the outputs, then removes them.

The kills are simulated in-process (an exception at the point of the kill,
the lock released as the kernel releases it); `test_resilience.py` kills
real processes mid-training.
"""

import os

import keras
import numpy as np
import pytest

from kzoo import run
from kzoo.run import finish, fitting, search, session
from kzoo.run import fixmatch as fm
from kzoo.run.session import RUN_MARKER
from kzoo.training.callbacks import METADATA_FILE
from tests.run.helpers import FAST, SMOKE, read_json, saved_lenet, smoke_dir, weights_of

# Long in-process runs, killed and resumed, each compared with an
# uninterrupted run (the default tier keeps test_session's resume checks).
pytestmark = pytest.mark.large

# 20 labels per class of digits, 13 steps per pass, a check every pass.
SHORT = {"labels_per_class": 20, "val_fraction": 0, "check_every": 1, "epochs": 2,
         **FAST}


class Killed(BaseException):
    """Stands for SIGKILL: nothing catches it, the run stops where it is."""


def kill_once(monkeypatch, owner, name):
    """`owner.name` raises `Killed` the first time it is called."""
    real = getattr(owner, name)
    calls = []

    def dies(*args, **kwargs):
        if not calls:
            calls.append(1)
            raise Killed(name)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, dies)


def never_train(monkeypatch):
    """Any `fit` from now on fails the test."""
    def fit(self, *args, **kwargs):
        raise AssertionError(f"{self.name} trained again")

    monkeypatch.setattr(keras.Model, "fit", fit)


def backups_under(out):
    """The kzoo backups (folders with the backup metadata) under `out`."""
    return sorted(root for root, _, files in os.walk(out) if METADATA_FILE in files)


def read_bytes(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def assert_same_weights(a, b):
    assert len(a) == len(b)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_kill_during_the_export_finishes_without_training(
        tmp_path, monkeypatch, capsys):
    whole = run.run("train", out=str(tmp_path / "whole"), **SHORT)
    out = str(tmp_path / "cut")
    kill_once(monkeypatch, finish, "write_exports")
    with pytest.raises(Killed):
        run.run("train", out=out, **SHORT)
    # Killed after training, during the export: the finished training is kept.
    assert backups_under(out) == [os.path.join(out, "backup")]
    assert read_json(out, "backup", METADATA_FILE)["epoch"] == 2  # both checks
    assert not os.path.exists(os.path.join(out, "model.keras"))
    log = read_bytes(out, "training_log.csv")
    capsys.readouterr()
    never_train(monkeypatch)
    result = run.run("train", out=out, **SHORT)
    printed = capsys.readouterr().out
    assert (f"lenet5: training finished before (2 epochs); its weights restored "
            f"from {os.path.join(out, 'backup')}") in printed
    assert "epochs in" not in printed  # no progress bar: nothing trained
    assert read_bytes(out, "training_log.csv") == log  # no new rows
    # The outputs are those of the run that was never interrupted.
    assert_same_weights(weights_of(out), weights_of(whole.out))
    metrics, expected = read_json(out, "metrics.json"), read_json(whole.out,
                                                                  "metrics.json")
    assert metrics["weights_sha256"] == expected["weights_sha256"]
    assert metrics["test_accuracy"] == expected["test_accuracy"]
    assert result.saved_model == os.path.join(out, "1")
    assert os.path.isfile(os.path.join(out, "1", "assets.extra", "metrics.json"))
    # Complete: the backup and the run's claim on the folder are gone.
    assert backups_under(out) == [] and not os.path.exists(
        os.path.join(out, "backup"))
    assert not os.path.exists(os.path.join(out, RUN_MARKER))


def test_a_fixmatch_run_killed_while_plotting_finishes_to_the_same_outputs(
        tmp_path, monkeypatch, capsys):
    whole = run.run("fixmatch", out=str(tmp_path / "whole"), **SMOKE)
    out = smoke_dir(str(tmp_path / "cut"))
    kill_once(monkeypatch, fm, "plot_curve")
    with pytest.raises(Killed):
        run.run("fixmatch", out=str(tmp_path / "cut"), **SMOKE)
    assert backups_under(out) == [os.path.join(out, "backup")]
    never_train(monkeypatch)
    capsys.readouterr()
    run.run("fixmatch", out=str(tmp_path / "cut"), **SMOKE)
    assert "fixmatch: training finished before" in capsys.readouterr().out
    assert_same_weights(weights_of(out), weights_of(whole.out))
    assert read_json(out, "fixmatch.json")["test_accuracy"] == read_json(
        whole.out, "fixmatch.json")["test_accuracy"]
    assert os.path.isfile(os.path.join(out, fm.CURVE))
    assert backups_under(out) == []


def killed_at_the_end(monkeypatch):
    """The next run is killed when it has written everything, just before
    it closes: the lock freed (as the kernel frees it), nothing else."""
    real = session.Session.close
    calls = []

    def close(self, succeeded):
        if calls:
            return real(self, succeeded)
        calls.append(1)
        real(self, False)
        raise Killed("at the end")

    monkeypatch.setattr(session.Session, "close", close)


def multi_phase_runs(tmp_path):
    old = saved_lenet(tmp_path / "old.keras", 5)
    return {
        "pseudo-label": {},
        "noisy-student": {"rounds": 1},
        "distill": {"teacher": "lenet5", "teacher_width": 0.5,
                    "student_width": 0.25, "compare": False},
        "lwf": {"old_model": old, "old_classes": "0,1,2,3,4",
                "classes": "5,6,7,8,9", "method": "lwf", "warmup_epochs": 1},
        "transfer": {"source": old, "classes": "5,6,7,8,9", "labels_per_class": 5,
                     "mode": "all"},
        "search": {"trials": 1},
    }


@pytest.mark.parametrize("command", ["pseudo-label", "noisy-student", "distill",
                                     "lwf", "transfer", "search"])
def test_every_phase_of_a_run_killed_at_its_end_is_restored_not_retrained(
        command, tmp_path, monkeypatch, capsys):
    options = {**multi_phase_runs(tmp_path)[command], "out": str(tmp_path / "run"),
               "export": ["keras"], **SMOKE}
    out = smoke_dir(options["out"])
    trials = []
    if command == "search":  # where a trial's backup goes: when it is recorded
        real = search.train_and_score

        def spy(config, data, spec, split, target, phase):
            trials.append(backups_under(os.path.join(out, "trials")))
            return real(config, data, spec, split, target, phase)

        monkeypatch.setattr(search, "train_and_score", spy)
    killed_at_the_end(monkeypatch)
    with pytest.raises(Killed):
        run.run(command, **options)
    if command == "search":  # the retrains start without the trial's backup
        assert trials == [[], [], []]  # trial 1, best, baseline
    kept = backups_under(out)
    assert kept, "the finished phases' backups are kept"
    never_train(monkeypatch)
    capsys.readouterr()
    run.run(command, **options)
    printed = capsys.readouterr().out
    # Each kept backup restored once; a search's recorded trial is not run
    # again.
    assert printed.count("training finished before") == len(kept), printed
    assert backups_under(out) == []
    assert not os.path.exists(os.path.join(out, RUN_MARKER))


class StopInCheck(keras.callbacks.Callback):
    """Stands for a kill at the start of check `at` of a fit of `epochs` checks."""

    def __init__(self, epochs, at):
        super().__init__()
        self.epochs, self.at = epochs, at

    def on_epoch_begin(self, epoch, logs=None):
        if self.params["epochs"] == self.epochs and epoch == self.at:
            raise Killed("mid-phase")


def test_a_phase_after_a_finished_one_resumes_to_the_same_weights(
        tmp_path, monkeypatch, capsys):
    # LwF: a warm-up of 2 checks, then a joint phase of 3, killed in its third.
    old = saved_lenet(tmp_path / "old.keras", 5)
    options = {"old_model": old, "old_classes": "0,1,2,3,4", "classes": "5,6,7,8,9",
               "method": "lwf", "warmup_epochs": 2, "epochs": 3, "check_every": 1,
               "labels_per_class": 20, "val_fraction": 0, "export": ["keras"],
               **FAST}
    whole = run.run("lwf", out=str(tmp_path / "whole"), **options)
    out = str(tmp_path / "cut")
    logs = fitting.logs
    monkeypatch.setattr(fitting, "logs",
                        lambda *a, **k: [*logs(*a, **k), StopInCheck(3, 2)])
    with pytest.raises(Killed):
        run.run("lwf", out=out, **options)
    monkeypatch.setattr(fitting, "logs", logs)
    capsys.readouterr()
    run.run("lwf", out=out, **options)
    printed = capsys.readouterr().out
    assert "lwf warm-up: training finished before (2 epochs)" in printed
    assert "backup_joint: 2 of 3 epochs done" in printed
    assert_same_weights(weights_of(os.path.join(out, "lwf")),
                        weights_of(os.path.join(whole.out, "lwf")))
    assert backups_under(out) == []
