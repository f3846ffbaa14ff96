"""Surviving long runs: resume after SIGKILL, determinism, NaN, bad --out.

The kill and the two deterministic runs are separate `python -m kzoo`
processes: what survives a process is the point. The rest runs in-process.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from tests.run.helpers import kzoo, run_kzoo, start_kzoo, weights_of
from tests.training.helpers import max_difference

# Full digits train split (1,295 images, 81 steps per epoch), with
# augmentation and dropout, so that the data order, the augmentation random
# stream and the dropout masks all have to be resumed; a check (backup)
# every pass.
RESUME_FLAGS = ["--epochs", "5", "--augment", "flip,crop", "--steps-per-execution",
                "9", "--check-every", "1"]


def backup_epoch(out):
    path = os.path.join(out, "backup", "training_metadata.json")
    try:
        with open(path) as f:
            return json.load(f)["epoch"]
    except (OSError, ValueError):  # not written yet, or mid-write
        return 0


def kill_mid_epoch(process, out, after_epochs=2, timeout=300):
    """SIGKILL `process` about half an epoch after its backup reaches
    `after_epochs`; returns the backup's epoch count at the kill."""
    deadline = time.monotonic() + timeout
    marks = {}
    while time.monotonic() < deadline and process.poll() is None:
        epoch = backup_epoch(out)
        marks.setdefault(epoch, time.monotonic())
        if epoch >= after_epochs:
            epoch_seconds = marks[epoch] - marks.get(epoch - 1, marks[epoch] - 1.0)
            time.sleep(max(0.05, epoch_seconds / 2))
            break
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    return backup_epoch(out)


@pytest.mark.large  # SIGKILL and resume: three processes
def test_sigkill_mid_epoch_then_rerun_equals_an_uninterrupted_run(tmp_path):
    # The uninterrupted run goes alongside the one that gets killed (2 cores).
    whole = str(tmp_path / "whole")
    with open(tmp_path / "whole.log", "w") as log:
        uninterrupted = start_kzoo("train", *RESUME_FLAGS, "--out", whole,
                                   stdout=log, stderr=subprocess.STDOUT)
        out = str(tmp_path / "killed")
        killed = start_kzoo("train", *RESUME_FLAGS, "--out", out,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed_at = kill_mid_epoch(killed, out)
        assert 2 <= killed_at < 5
        assert not os.path.exists(os.path.join(out, "model.keras"))
        resumed = run_kzoo("train", *RESUME_FLAGS, "--out", out)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert f"resuming from {os.path.join(out, 'backup')}: {killed_at} of 5" in (
            resumed.stdout)
        assert uninterrupted.wait(timeout=600) == 0, (
            tmp_path / "whole.log").read_text()[-3000:]

    assert max_difference(weights_of(whole), weights_of(out)) == 0.0
    with open(os.path.join(out, "training_log.csv")) as f:
        checks = [int(row["check"]) for row in csv.DictReader(f)]
    assert sorted(set(checks)) == [1, 2, 3, 4, 5]  # the log of every check kept
    assert not os.path.exists(os.path.join(out, "backup"))  # removed once done


@pytest.mark.large  # two whole runs in two processes
def test_deterministic_runs_are_bit_identical(tmp_path):
    flags = ["--deterministic", "--epochs", "2", "--labels-per-class", "20",
             "--augment", "default"]
    runs = [start_kzoo("train", *flags, "--out", tmp_path / name,
                       stdout=subprocess.DEVNULL) for name in ("a", "b")]
    for process in runs:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
    a, b = weights_of(str(tmp_path / "a")), weights_of(str(tmp_path / "b"))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    digests = []
    for name in ("a", "b"):
        with open(tmp_path / name / "metrics.json") as f:
            digests.append(json.load(f)["weights_sha256"])
    assert digests[0] == digests[1]


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_state(
        tmp_path, capsys):
    out = str(tmp_path / "run")
    # An Adam step of 1e6 drives the logits to infinity within two epochs.
    code, _, err = kzoo(capsys, "train", "--epochs", "8", "--labels-per-class",
                        "20", "--lr", "1e6", "--steps-per-execution", "1",
                        "--out", out)
    assert code == 2
    assert ("error: The training loss or weights became NaN or infinite in "
            "training step") in err
    assert not os.path.exists(os.path.join(out, "model.keras"))  # no export
    assert not os.path.exists(os.path.join(out, "1"))
    kept = backup_epoch(out)
    if kept:  # a finished check before the NaN: its state is kept, finite
        assert "the last good state (step " in err
        values = []
        with open(os.path.join(out, "backup", "training_metadata.json")) as f:
            weights = json.load(f)["weights"]
        with h5py.File(os.path.join(out, "backup", weights)) as f:
            f.visititems(lambda _, item: values.append(item[()])
                         if isinstance(item, h5py.Dataset) else None)
        assert values and all(np.all(np.isfinite(v)) for v in values
                              if np.issubdtype(v.dtype, np.floating))
    else:
        assert "no check finished before it" in err


@pytest.mark.parametrize("kind", ["not_a_folder", "full"])
def test_bad_out_fails_before_any_training(kind, tmp_path, capsys, monkeypatch):
    if kind == "not_a_folder":
        blocker = tmp_path / "file"
        blocker.write_text("x")
        out = str(blocker / "run")
        expected = "is not writable"
    else:
        real = shutil.disk_usage

        def tiny(path):
            return real(path)._replace(free=1024 * 1024)

        monkeypatch.setattr(shutil, "disk_usage", tiny)
        out = str(tmp_path / "run")
        expected = "MiB free; this run writes about"
    code, _, err = kzoo(capsys, "train", "--smoke", "--out", out)
    assert code == 2 and expected in err, err
    assert not os.path.exists(os.path.join(out, "smoke", "training_log.csv"))
