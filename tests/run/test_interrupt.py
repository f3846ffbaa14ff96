"""Ctrl-C: one line on stderr, exit status 130, and the line is true.

The training run is a real `python -m kzoo` process that gets SIGINT once
its first check's backup is written: what the user sees at the process
boundary is the point.
"""

import json
import os
import signal
import time

import pytest

from kzoo.run import configure
from kzoo.run.commands import COMMANDS
from tests.run.helpers import start_kzoo

# What a shell reports for a process that SIGINT stopped (128 + 2).
INTERRUPTED = 130

# A run far longer than the test (digits: about 3 passes per check).
LONG_RUN = ["train", "--data", "digits", "--epochs", "1000",
            "--steps-per-execution", "1", "--no-jit-compile"]


def wait_for_backup(process, out, timeout=120):
    """Wait until the run in `out` has backed up its first check."""
    path = os.path.join(out, "backup", "training_metadata.json")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with open(path) as f:
                if json.load(f)["epoch"] >= 1:
                    return
        except (OSError, ValueError, KeyError):  # not yet, or mid-write
            pass
        time.sleep(0.1)
    process.kill()
    _, err = process.communicate()
    raise AssertionError(f"no backup in {out} (exit {process.returncode}): "
                         f"{err[-2000:]}")


@pytest.mark.large
def test_ctrl_c_while_training_is_one_line_and_exit_status_130(tmp_path):
    out = str(tmp_path / "run")
    process = start_kzoo(*LONG_RUN, "--out", out)
    try:
        wait_for_backup(process, out)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == INTERRUPTED, err[-3000:]
    assert "Traceback" not in err
    assert err.strip().splitlines() == [
        "interrupted; run the same command to resume from its last backup"]
    # What the line promises: the backup stays for the same command, and so
    # does the run marker that makes it resume rather than restart.
    assert os.path.isfile(os.path.join(out, "backup", "training_metadata.json"))
    assert os.path.isfile(os.path.join(out, ".kzoo-run.json"))
    assert not os.path.exists(os.path.join(out, "model.keras"))


def test_the_line_says_resume_only_where_the_same_command_resumes():
    from kzoo.cli import interrupted_line

    for name in ("train", "fixmatch", "noisy-student", "distill", "search",
                 "label-budget"):
        assert interrupted_line(COMMANDS[name], configure(name)) == (
            "interrupted; run the same command to resume from its last backup")
    fresh = interrupted_line(COMMANDS["train"], configure("train", fresh=True))
    assert fresh == ("interrupted; run the same command without --fresh to "
                     "resume from its last backup")
    # Stopped while its options were being read: nothing started.
    assert interrupted_line(COMMANDS["train"]) == "interrupted"
    for name in ("evaluate", "predict", "export", "info", "augment-preview"):
        line = interrupted_line(COMMANDS[name])
        assert line == (f"interrupted (kzoo {name} does not resume: run it "
                        "again to start over)")


def test_ctrl_c_in_a_command_that_does_not_resume(monkeypatch, capsys):
    from kzoo import cli, run

    def interrupted(config):
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "run", interrupted)
    monkeypatch.delenv("KZOO_TRACEBACK", raising=False)
    try:
        code = cli.main(["evaluate", "--model", "m"])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped kzoo.cli.main: the user gets a traceback")
    assert code == INTERRUPTED
    assert capsys.readouterr().err.splitlines() == [
        "interrupted (kzoo evaluate does not resume: run it again to start over)"]

