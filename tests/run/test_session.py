"""A run never loses or corrupts what is in --out: one run per folder
(locked), backups that resume only their own run, the settings of an
interrupted run checked before anything is written, atomic files, smoke runs
that are never served, and a recorded config.json that replays the run."""

import contextlib
import json
import os
import subprocess
import sys

import keras
import pytest

from kzoo import outputs, run
from kzoo.errors import KzooError
from kzoo.run import COMMANDS, fitting
from kzoo.run.config import NOT_RECORDED, parse_argv
from kzoo.run.session import RUN_MARKER, backup_config, run_dir
from tests.run.helpers import FAST, flags, kzoo, one_error_line, smoke_dir

# 20 labels per class of digits: 13 steps per epoch, a few seconds a run.
# A check (validation, backup) every pass: runs stop and resume per pass.
SHORT = dict(labels_per_class=20, val_fraction=0, check_every=1, **FAST)


class Interrupt(keras.callbacks.Callback):
    """Stands for a kill at the start of epoch `at` (0-based)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


@contextlib.contextmanager
def interrupted_at(monkeypatch, epoch):
    """Runs inside are interrupted at the start of `epoch` (and must be)."""
    logs = fitting.logs
    monkeypatch.setattr(fitting, "logs",
                        lambda *a, **k: logs(*a, **k) + [Interrupt(epoch)])
    with pytest.raises(KeyboardInterrupt):
        yield
    monkeypatch.setattr(fitting, "logs", logs)


# --- the output folder: one run at a time, never someone else's files -----


def test_a_second_run_into_a_locked_folder_stops_at_once(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "smoke").mkdir(parents=True)
    held = outputs.OutputLock(str(out / "smoke"))  # a smoke run in progress
    try:
        code, _, err = kzoo(capsys, "train", "--smoke", "--out", out, *flags(**FAST))
    finally:
        held.release()
    assert code == 2
    assert (f"Another kzoo run (process {os.getpid()}) is writing to "
            f"{out / 'smoke'}") in one_error_line(err)
    assert sorted(os.listdir(out / "smoke")) == [outputs.LOCK_FILE]


def test_the_lock_of_a_killed_run_is_free(tmp_path):
    hold = ("import sys, time; from kzoo.outputs import OutputLock; "
            "OutputLock(sys.argv[1]); print('locked', flush=True); time.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", hold, str(tmp_path)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    with pytest.raises(KzooError, match="Another kzoo run"):
        outputs.OutputLock(str(tmp_path))
    process.kill()
    process.wait()
    outputs.OutputLock(str(tmp_path)).release()  # the kernel freed it


def test_a_users_backup_folder_is_never_deleted(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "backup").mkdir(parents=True)
    (out / "backup" / "notes.txt").write_text("mine")
    code, _, err = kzoo(capsys, "train", "--epochs", "1", "--out", out,
                        *flags(**SHORT))
    assert code == 2
    assert "is not a kzoo backup; kzoo neither writes into nor deletes it" in (
        one_error_line(err))
    assert (out / "backup" / "notes.txt").read_text() == "mine"


@pytest.mark.large
def test_model_keras_survives_a_crash_while_it_is_saved(tmp_path, monkeypatch):
    out = str(tmp_path / "run")
    run.run("train", smoke=True, out=out, **FAST)
    path = os.path.join(out, "smoke", "model.keras")
    before = open(path, "rb").read()

    def dies_half_way(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(before[: len(before) // 2])
        raise SystemExit("killed while saving")

    monkeypatch.setattr(keras.Model, "save", dies_half_way)
    with pytest.raises(SystemExit):
        run.run("train", smoke=True, out=out, **FAST)
    monkeypatch.undo()
    assert open(path, "rb").read() == before
    keras.models.load_model(path)
    leftovers = [f for f in os.listdir(os.path.dirname(path)) if ".tmp" in f]
    assert not leftovers


def test_write_json_never_follows_a_planted_link(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in ("metrics.json.tmp", ".metrics.json.tmp"):
        os.symlink(victim, tmp_path / name)
    outputs.write_json(str(tmp_path / "metrics.json"), {"a": 1})
    assert victim.read_text() == "precious"
    assert json.load(open(tmp_path / "metrics.json")) == {"a": 1}
    assert oct(os.stat(tmp_path / "metrics.json").st_mode & 0o777) == oct(
        outputs.file_mode())


@pytest.mark.large
def test_smoke_runs_never_add_a_served_version(tmp_path):
    out = tmp_path / "run"
    run.run("train", epochs=1, out=str(out), **SHORT)
    served = (out / "model.keras").read_bytes()
    result = run.run("train", smoke=True, out=str(out), **FAST)
    versions = sorted(d for d in os.listdir(out) if d.isdigit())
    assert versions == ["1"]  # TF Serving watching --out still serves 1/
    assert (out / "model.keras").read_bytes() == served
    assert result.saved_model == str(out / "smoke" / "1")
    assert os.path.isdir(out / "smoke" / "1")


# --- interrupted runs: resumed by the same command only ------------------


@pytest.mark.large
def test_a_backup_resumes_only_its_own_run(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "run")
    with interrupted_at(monkeypatch, 2):
        run.run("train", epochs=3, out=out, **SHORT)
    # Other flags: refused, naming the difference, and the backup is kept.
    code, _, err = kzoo(capsys, "train", "--epochs", "5", "--out", out,
                        *flags(**SHORT))
    assert code == 2
    line = one_error_line(err)
    assert "belongs to a run with other settings (epochs: 3 -> 5)" in line
    assert "--fresh" in line
    assert json.load(open(os.path.join(out, "backup", "training_metadata.json"))
                     )["epoch"] == 2
    assert json.load(open(os.path.join(out, "config.json")))["epochs"] == 3
    # The same flags resume; --fresh would start over (tested below).
    code, printed, err = kzoo(capsys, "train", "--epochs", "3", "--out", out,
                              *flags(**SHORT))
    assert code == 0, err
    assert f"resuming from {os.path.join(out, 'backup')}: 2 of 3 epochs" in printed
    assert not os.path.exists(os.path.join(out, "backup"))
    assert not os.path.exists(os.path.join(out, RUN_MARKER))


@pytest.mark.large
def test_an_interrupted_runs_settings_are_checked_before_anything_is_written(
        tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    with interrupted_at(monkeypatch, 0):  # no epoch done: no backup to check
        run.run("train", epochs=2, out=str(out), **SHORT)
    assert not (out / "backup" / "training_metadata.json").exists()
    marker = json.load(open(out / RUN_MARKER))
    assert marker["config"]["epochs"] == 2 and "out" not in marker["config"]
    written = {name: (out / name).read_bytes() for name in ("config.json",
                                                            RUN_MARKER)}
    code, _, err = kzoo(capsys, "train", "--epochs", "3", "--out", out,
                        *flags(**SHORT))
    assert code == 2
    line = one_error_line(err)
    assert (f"The interrupted run in {out} belongs to a run with other settings "
            "(epochs: 2 -> 3)") in line and "--fresh" in line
    assert {name: (out / name).read_bytes() for name in written} == written
    # --fresh claims the folder for the new settings; success removes the claim.
    result = run.run("train", epochs=3, fresh=True, out=str(out), **SHORT)
    assert json.load(open(out / "config.json"))["epochs"] == 3
    assert result.saved_model == str(out / "1")
    assert not (out / RUN_MARKER).exists()


@pytest.mark.large
def test_fresh_discards_kzoos_backup_and_starts_over(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "run")
    with interrupted_at(monkeypatch, 1):
        run.run("train", epochs=3, out=out, **SHORT)
    assert os.path.exists(os.path.join(out, "backup", "training_metadata.json"))
    capsys.readouterr()
    run.run("train", epochs=2, fresh=True, out=out, **SHORT)
    assert "resuming" not in capsys.readouterr().out
    assert os.path.isdir(os.path.join(out, "1"))
    assert not os.path.exists(os.path.join(out, "backup"))


def test_how_a_run_was_started_does_not_bind_its_backup(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"epochs": 3}))
    train = COMMANDS["train"]
    plain, _ = parse_argv(train, ["--epochs", "3", "--out", "a"])
    other, _ = parse_argv(train, ["--config", str(path), "--fresh", "--out", "b"])
    assert backup_config(plain) == backup_config(other)
    changed, _ = parse_argv(train, ["--epochs", "4"])
    assert backup_config(plain) != backup_config(changed)


# --- the recorded config.json replays the run ---------------------------


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """The --out of `train --smoke --epochs 3 --lr 0.01` (run once)."""
    out = str(tmp_path_factory.mktemp("replay") / "run")
    run.run("train", smoke=True, epochs=3, lr=0.01, out=out, **FAST)
    return out


@pytest.mark.large
def test_a_runs_config_json_replays_it(smoke_run):
    recorded = os.path.join(smoke_run, "smoke", "config.json")
    original = json.load(open(recorded))
    assert {"class_names", "counts"} <= set(original)  # facts are recorded too
    config, _ = parse_argv(COMMANDS["train"], ["--config", recorded])
    assert (config.epochs, config.lr, config.smoke, config.model) == (
        3, 0.01, True, "lenet5")
    replayed = {k: v for k, v in config.to_dict().items() if k not in NOT_RECORDED}
    flags_recorded = {k: original[k] for k in replayed}
    assert replayed == flags_recorded


def test_a_smoke_runs_config_replays_into_the_same_folder(smoke_run):
    recorded = json.load(open(os.path.join(smoke_run, "smoke", "config.json")))
    assert recorded["out"] == smoke_run and "fresh" not in recorded
    assert recorded["output_dir"] == smoke_dir(smoke_run)
    config, _ = parse_argv(COMMANDS["train"], [
        "--config", os.path.join(smoke_run, "smoke", "config.json")])
    assert run_dir(config.out, config.smoke) == smoke_dir(smoke_run)
