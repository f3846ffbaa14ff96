"""A run never loses or corrupts what is in --out, and refuses bad settings
before it writes anything: locks, owned backups, atomic files, validated
flags and config files, smoke runs that are never served."""

import json
import os
import subprocess
import sys

import keras
import pytest

from kzoo import outputs
from kzoo.cli import run_main
from kzoo.testing import make_image_folder
from tests.recipes.helpers import load_recipe

train = load_recipe("train")
evaluate = load_recipe("evaluate")
FAST = ["--no-jit-compile", "--steps-per-execution", "1"]
# 20 labels per class of digits: 13 steps per epoch, a few seconds a run.
SHORT = ["--labels-per-class", "20", "--val-fraction", "0", *FAST]


def one_error_line(capsys):
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


# --- flags and config files: checked before anything is written ----------

FLAG_ERRORS = [
    ("train", ["--lr", "nan"], "--lr: must be a finite number > 0, got nan"),
    ("train", ["--lr", "-1"], "--lr: must be a finite number > 0, got -1"),
    ("train", ["--label-smoothing", "5"], "--label-smoothing: must be in [0, 1)"),
    ("train", ["--model", "vgg11", "--input-size", "1"],
     "too small for vgg11: its layer block1_pool would pool a 1x1 map"),
    ("noisy_student", ["--threshold", "1.5"], "--threshold: must be in [0, 1]"),
    ("noisy_student", ["--threshold", "nan"], "--threshold: must be in [0, 1]"),
    ("noisy_student", ["--noise-dropout", "1.5"], "--noise-dropout: must be in"),
    ("noisy_student", ["--models", "lenet5,vgg11", "--input-size", "16"],
     "too small for vgg11"),
    ("distill", ["--model", "alexnet"], "--model does not apply to"),
    ("transfer", ["--source", "x.keras", "--width", "2"], "--width does not apply"),
]


@pytest.mark.parametrize("recipe,argv,match", FLAG_ERRORS,
                         ids=[" ".join(a) for _, a, _ in FLAG_ERRORS])
def test_bad_flags_fail_in_one_line_before_anything_is_written(
        recipe, argv, match, tmp_path, capsys):
    out = tmp_path / "run"
    code = run_main(load_recipe(recipe).main, argv + ["--out", str(out)])
    assert code == 2
    assert match in one_error_line(capsys)
    assert not out.exists()


CONFIG_ERRORS = [
    ({"epochs": 0}, "epochs: must be >= 1, got 0"),
    ({"schedule": "linear"}, "schedule: expected one of ['constant', 'cosine']"),
    ({"input_size": 0}, "input_size: must be >= 1, got 0"),
    ({"lr": "fast"}, "lr: expected a number"),
    ({"smoke": "yes"}, "smoke: expected true or false"),
]


@pytest.mark.parametrize("config,match", CONFIG_ERRORS,
                         ids=[next(iter(c)) for c, _ in CONFIG_ERRORS])
def test_config_values_pass_the_checks_of_flags(config, match, tmp_path, capsys):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config))
    out = tmp_path / "run"
    code = run_main(train.main, ["--config", str(path), "--out", str(out)])
    assert code == 2
    line = one_error_line(capsys)
    assert str(path) in line and match in line
    assert not out.exists()


@pytest.mark.parametrize("kind", ["yaml", "folder", "missing"])
def test_unreadable_config_is_one_error_line(kind, tmp_path, capsys):
    path = tmp_path / "cfg.yaml"
    if kind == "yaml":
        path.write_text("epochs: [1, 2\nlr: 0.1\n")
    elif kind == "folder":
        path.mkdir()
    code = run_main(train.main, ["--config", str(path), "--out", str(tmp_path / "r")])
    assert code == 2
    line = one_error_line(capsys)
    assert str(path) in line
    assert {"yaml": "does not parse", "folder": "Cannot read config file",
            "missing": "Cannot read config file"}[kind] in line


def test_a_runs_config_json_replays_it(tmp_path):
    out = str(tmp_path / "run")
    assert run_main(train.main, ["--smoke", "--epochs", "3", "--lr", "0.01",
                                 "--out", out, *FAST]) == 0
    recorded = os.path.join(out, "smoke", "config.json")
    original = json.load(open(recorded))
    assert {"class_names", "counts"} <= set(original)  # facts are recorded too
    args = train.cli.parse_args(train.build_parser(), ["--config", recorded])
    assert (args.epochs, args.lr, args.smoke, args.model) == (3, 0.01, True, "lenet5")
    replayed = {k: v for k, v in vars(args).items()
                if k not in train.cli.NOT_RECORDED}
    flags = {k: original[k] for k in replayed}
    assert replayed == flags


# --- the output folder ---------------------------------------------------


def test_a_second_run_into_a_locked_folder_stops_at_once(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "smoke").mkdir(parents=True)
    held = outputs.OutputLock(str(out / "smoke"))  # a smoke run in progress
    try:
        code = run_main(train.main, ["--smoke", "--out", str(out), *FAST])
    finally:
        held.release()
    assert code == 2
    assert (f"Another kzoo run (process {os.getpid()}) is writing to "
            f"{out / 'smoke'}") in one_error_line(capsys)
    assert sorted(os.listdir(out / "smoke")) == [outputs.LOCK_FILE]


def test_the_lock_of_a_killed_run_is_free(tmp_path):
    hold = ("import sys, time; from kzoo.outputs import OutputLock; "
            "OutputLock(sys.argv[1]); print('locked', flush=True); time.sleep(60)")
    process = subprocess.Popen([sys.executable, "-c", hold, str(tmp_path)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    with pytest.raises(ValueError, match="Another kzoo run"):
        outputs.OutputLock(str(tmp_path))
    process.kill()
    process.wait()
    outputs.OutputLock(str(tmp_path)).release()  # the kernel freed it


def test_a_users_backup_folder_is_never_deleted(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "backup").mkdir(parents=True)
    (out / "backup" / "notes.txt").write_text("mine")
    code = run_main(train.main, ["--epochs", "1", "--out", str(out), *SHORT])
    assert code == 2
    assert "is not a kzoo backup; kzoo neither writes into nor deletes it" in (
        one_error_line(capsys))
    assert (out / "backup" / "notes.txt").read_text() == "mine"


class Interrupt(keras.callbacks.Callback):
    """Stands for a kill at the start of epoch `at` (0-based)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt


def test_a_backup_resumes_only_its_own_run(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "run")
    first = ["--epochs", "3", "--out", out, *SHORT]
    logs = train.callbacks
    monkeypatch.setattr(train, "callbacks",
                        lambda *a, **k: logs(*a, **k) + [Interrupt(2)])
    with pytest.raises(KeyboardInterrupt):
        run_main(train.main, first)
    monkeypatch.setattr(train, "callbacks", logs)
    capsys.readouterr()
    # Other flags: refused, naming the difference, and the backup is kept.
    assert run_main(train.main, ["--epochs", "5", "--out", out, *SHORT]) == 2
    line = one_error_line(capsys)
    assert "belongs to a run with other settings (epochs: 3 -> 5)" in line
    assert "--fresh" in line
    assert json.load(open(os.path.join(out, "backup", "training_metadata.json"))
                     )["epoch"] == 2
    assert json.load(open(os.path.join(out, "config.json")))["epochs"] == 3
    # The same flags resume; --fresh would start over (tested below).
    assert run_main(train.main, first) == 0
    assert "resuming from" in capsys.readouterr().out
    assert not os.path.exists(os.path.join(out, "backup"))


def test_fresh_discards_kzoos_backup_and_starts_over(tmp_path, capsys, monkeypatch):
    out = str(tmp_path / "run")
    logs = train.callbacks
    monkeypatch.setattr(train, "callbacks",
                        lambda *a, **k: logs(*a, **k) + [Interrupt(1)])
    with pytest.raises(KeyboardInterrupt):
        run_main(train.main, ["--epochs", "3", "--out", out, *SHORT])
    monkeypatch.setattr(train, "callbacks", logs)
    capsys.readouterr()
    assert run_main(train.main, ["--epochs", "2", "--fresh", "--out", out,
                                 *SHORT]) == 0
    assert "resuming" not in capsys.readouterr().out
    assert os.path.isdir(os.path.join(out, "1"))


def test_model_keras_survives_a_crash_while_it_is_saved(tmp_path, monkeypatch):
    out = str(tmp_path / "run")
    assert run_main(train.main, ["--smoke", "--out", out, *FAST]) == 0
    path = os.path.join(out, "smoke", "model.keras")
    before = open(path, "rb").read()

    def dies_half_way(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(before[: len(before) // 2])
        raise SystemExit("killed while saving")

    monkeypatch.setattr(keras.Model, "save", dies_half_way)
    with pytest.raises(SystemExit):
        run_main(train.main, ["--smoke", "--out", out, *FAST])
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


def test_smoke_runs_never_add_a_served_version(tmp_path):
    out = tmp_path / "run"
    assert run_main(train.main, ["--epochs", "1", "--out", str(out), *SHORT]) == 0
    served = (out / "model.keras").read_bytes()
    assert run_main(train.main, ["--smoke", "--out", str(out), *FAST]) == 0
    versions = sorted(d for d in os.listdir(out) if d.isdigit())
    assert versions == ["1"]  # TF Serving watching --out still serves 1/
    assert (out / "model.keras").read_bytes() == served
    assert os.path.isdir(out / "smoke" / "1")


# --- your own data -------------------------------------------------------


@pytest.fixture(scope="module")
def labelled_folder(tmp_path_factory):
    """train/<class> with 12 images each, test/<class> 4 each, 20 unlabelled."""
    root = str(tmp_path_factory.mktemp("own") / "data")
    return make_image_folder(root, classes=("a", "b", "c"), per_class=12, size=16,
                             splits=("train", "test"), unlabeled=20)


@pytest.mark.parametrize("recipe", ["pseudo_label", "noisy_student"])
def test_a_users_labels_are_all_used(recipe, labelled_folder, tmp_path, capsys):
    out = str(tmp_path / "run")
    code = run_main(load_recipe(recipe).main, [
        "--data", labelled_folder, "--input-size", "16", "--rounds", "1",
        "--smoke", "--out", out, *FAST] if recipe == "noisy_student" else [
        "--data", labelled_folder, "--input-size", "16", "--smoke", "--out", out,
        *FAST])
    assert code == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("labels: every labelled training image")
    counts = json.load(open(os.path.join(out, "smoke", "config.json")))["counts"]
    # of each class's 12: 1 to validation, 11 labelled; the pool is unlabeled/
    assert (counts["val"], counts["train"], counts["unlabeled"]) == (3, 33, 20)


def test_the_demo_budget_is_for_the_bundled_digits_only(labelled_folder, capsys):
    parse = train.cli.parse_args
    pseudo_label = load_recipe("pseudo_label")
    args = pseudo_label.with_budget(parse(pseudo_label.build_parser(), []))
    assert args.labels_per_class == 5
    assert "the demo budget of the bundled digits" in capsys.readouterr().out
    args = pseudo_label.with_budget(
        parse(pseudo_label.build_parser(), ["--data", labelled_folder]))
    assert args.labels_per_class is None
    search = load_recipe("randaugment_search")
    folder_args = parse(search.build_parser(), ["--data", labelled_folder])
    assert folder_args.labels_per_class is None


def test_a_single_class_is_refused(tmp_path, capsys):
    root = make_image_folder(str(tmp_path / "one"), classes=("only",), per_class=4,
                             size=8)
    out = tmp_path / "run"
    code = run_main(train.main, ["--data", root, "--out", str(out)])
    assert code == 2
    assert "at least 2 classes" in one_error_line(capsys)
    assert not out.exists()


def test_evaluate_reports_skipped_files_and_finds_the_latest_version(
        tmp_path, capsys):
    root = make_image_folder(str(tmp_path / "data"), classes=("a", "b"),
                             per_class=6, size=16, splits=("train", "test"))
    (tmp_path / "data" / "test" / "a" / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "run"
    assert run_main(train.main, ["--data", root, "--epochs", "1", "--input-size",
                                 "16", "--out", str(out), *FAST]) == 0
    assert run_main(train.main, ["--data", root, "--epochs", "1", "--input-size",
                                 "16", "--out", str(out), *FAST]) == 0
    capsys.readouterr()
    report = tmp_path / "eval.json"
    assert run_main(evaluate.main, ["--model", str(out), "--data", root,
                                    "--out", str(report)]) == 0
    text = capsys.readouterr().out
    assert f"scoring the latest version: {out / '2'}" in text
    assert "files the data scan skipped: 1" in text
    assert "broken.png: cannot be read or decoded" in text
    assert [os.path.basename(p) for p in json.load(open(report))["skipped_files"]
            ] == ["broken.png"]
    assert run_main(evaluate.main, ["--model", str(tmp_path), "--data", root]) == 2
    assert "No SavedModel at" in one_error_line(capsys)


def test_how_a_run_was_started_does_not_bind_its_backup(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"epochs": 3}))
    parse = train.cli.parse_args
    plain = parse(train.build_parser(), ["--epochs", "3", "--out", "a"])
    other = parse(train.build_parser(), ["--config", str(path), "--fresh",
                                         "--out", "b"])
    assert train.backup_config(plain) == train.backup_config(other)
    changed = parse(train.build_parser(), ["--epochs", "4"])
    assert train.backup_config(plain) != train.backup_config(changed)


def test_a_smoke_runs_config_replays_into_the_same_folder(tmp_path):
    out = str(tmp_path / "run")
    assert run_main(train.main, ["--smoke", "--out", out, *FAST]) == 0
    recorded = json.load(open(os.path.join(out, "smoke", "config.json")))
    assert recorded["out"] == out and "fresh" not in recorded
    assert recorded["output_dir"] == os.path.join(out, "smoke")
    args = train.cli.parse_args(train.build_parser(), [
        "--config", os.path.join(out, "smoke", "config.json")])
    assert train.run_dir(args.out, args.smoke) == os.path.join(out, "smoke")


def test_a_config_file_cannot_unset_a_flag_or_combine_exclusive_ones(
        tmp_path, capsys):
    path = tmp_path / "cfg.json"
    for config, match in (({"batch_size": None}, "expected a value for --batch-size"),
                          ({"labels_per_class": 5, "label_fraction": 0.5},
                           "--labels-per-class and --label-fraction exclude")):
        path.write_text(json.dumps(config))
        out = tmp_path / "run"
        assert run_main(train.main, ["--config", str(path), "--out", str(out)]) == 2
        assert match in one_error_line(capsys)
        assert not out.exists()


def test_a_required_flag_may_come_from_the_config_file(tmp_path):
    transfer = load_recipe("transfer")
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"source": "a.keras", "mode": "head"}))
    args = train.cli.parse_args(transfer.build_parser(), ["--config", str(path)])
    assert (args.source, args.mode, args.model) == ("a.keras", "head", None)
