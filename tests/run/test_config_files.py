"""Flags and `--config` files are checked before anything is written: a bad
value is one `error:` line, exit status 2, and no --out folder."""

import json

import pytest

from kzoo.errors import KzooError
from kzoo.run import COMMANDS
from kzoo.run.config import parse_argv
from tests.run.helpers import kzoo, one_error_line

FLAG_ERRORS = [
    ("train", ["--lr", "nan"], "--lr: must be a finite number > 0, got nan"),
    ("train", ["--lr", "-1"], "--lr: must be a finite number > 0, got -1"),
    ("train", ["--label-smoothing", "5"], "--label-smoothing: must be in [0, 1)"),
    ("train", ["--model", "vgg11", "--input-size", "1"],
     "too small for vgg11: its layer block1_pool would pool a 1x1 map"),
    ("noisy-student", ["--threshold", "1.5"], "--threshold: must be in [0, 1]"),
    ("noisy-student", ["--threshold", "nan"], "--threshold: must be in [0, 1]"),
    ("noisy-student", ["--noise-dropout", "1.5"], "--noise-dropout: must be in"),
    ("noisy-student", ["--models", "lenet5,vgg11", "--input-size", "16"],
     "too small for vgg11"),
    ("distill", ["--model", "alexnet"], "--model does not apply to"),
    ("transfer", ["--source", "x.keras", "--width", "2"], "--width does not apply"),
]


@pytest.mark.parametrize("command,argv,match", FLAG_ERRORS,
                         ids=[" ".join([c, *a]) for c, a, _ in FLAG_ERRORS])
def test_bad_flags_fail_in_one_line_before_anything_is_written(
        command, argv, match, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = kzoo(capsys, command, *argv, "--out", out)
    assert code == 2
    assert match in one_error_line(err)
    assert not out.exists()


CONFIG_ERRORS = [
    ({"epochs": 0}, "epochs: must be an integer in [1, 100,000], got 0"),
    ({"schedule": "linear"}, "schedule: expected one of ['constant', 'cosine']"),
    ({"input_size": 0}, "input_size: must be an integer in [1, 1,024], got 0"),
    ({"lr": "fast"}, "lr: expected a number"),
    ({"smoke": "yes"}, "smoke: expected true or false"),
    ({"batch_size": None}, "expected a value for --batch-size"),
    ({"labels_per_class": 5, "label_fraction": 0.5},
     "--labels-per-class and --label-fraction exclude each other"),
    ({"epochz": 7}, "Unknown keys ['epochz']"),
]


@pytest.mark.parametrize("config,match", CONFIG_ERRORS,
                         ids=["-".join(c) for c, _ in CONFIG_ERRORS])
def test_config_values_pass_the_checks_of_flags(config, match, tmp_path, capsys):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(config))
    out = tmp_path / "run"
    code, _, err = kzoo(capsys, "train", "--config", path, "--out", out)
    assert code == 2
    line = one_error_line(err)
    assert match in line
    if "exclude" not in match:  # the file's values are named with the file
        assert str(path) in line
    assert not out.exists()


@pytest.mark.parametrize("kind", ["yaml", "folder", "missing", "list"])
def test_unreadable_config_is_one_error_line(kind, tmp_path, capsys):
    path = tmp_path / "cfg.yaml"
    if kind == "yaml":
        path.write_text("epochs: [1, 2\nlr: 0.1\n")
    elif kind == "folder":
        path.mkdir()
    elif kind == "list":
        path.write_text("- epochs\n- 3\n")
    code, _, err = kzoo(capsys, "train", "--config", path, "--out", tmp_path / "r")
    assert code == 2
    line = one_error_line(err)
    assert str(path) in line
    assert {"yaml": "does not parse", "folder": "Cannot read config file",
            "missing": "Cannot read config file",
            "list": "must hold a mapping"}[kind] in line
    assert not (tmp_path / "r").exists()


def test_config_file_under_explicit_flags(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"epochs": 7, "batch-size": 16, "model": "vgg11"}))
    config, given = parse_argv(COMMANDS["train"], ["--config", str(path),
                                                   "--model", "lenet5"])
    assert given == str(path)
    assert (config.epochs, config.batch_size, config.model) == (7, 16, "lenet5")
    path.write_text(json.dumps({"epochz": 7}))
    with pytest.raises(KzooError, match="epochz"):
        parse_argv(COMMANDS["train"], ["--config", str(path)])


def test_a_required_flag_may_come_from_the_config_file(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"source": "a.keras", "mode": "head"}))
    config, _ = parse_argv(COMMANDS["transfer"], ["--config", str(path)])
    assert (config.source, config.mode, config.model) == ("a.keras", "head", None)
    with pytest.raises(KzooError, match="--source is required for kzoo transfer"):
        parse_argv(COMMANDS["transfer"], [])


def test_an_unknown_flag_or_command_is_one_error_line(tmp_path, capsys):
    code, _, err = kzoo(capsys, "train", "--epochz", "3", "--out", tmp_path / "r")
    assert code == 2
    line = one_error_line(err)
    assert "unrecognized arguments: --epochz 3" in line and "--help" in line
    code, _, err = kzoo(capsys, "trian")
    assert code == 2 and "unknown command 'trian'" in one_error_line(err)
    assert not (tmp_path / "r").exists()
