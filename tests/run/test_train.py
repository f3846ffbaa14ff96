"""`kzoo train` end to end: what a run writes, prints and exports."""

import json
import os
import re

import pytest
import tensorflow as tf

from kzoo import run
from tests.data.test_loader import make_bad_folder
from tests.run.helpers import FAST, smoke_dir


@pytest.mark.large
def test_smoke_run_writes_everything_and_the_export_scores(tmp_path, capsys):
    given = str(tmp_path / "run")
    capsys.readouterr()
    result = run.run("train", smoke=True, out=given)
    printed = capsys.readouterr()
    out = smoke_dir(given)
    assert result.command == "train" and result.out == out
    assert result.saved_model == os.path.join(out, "1")
    files = set(os.listdir(out))
    assert {"config.json", "metrics.json", "confusion_matrix.png", "model.keras",
            "training_log.csv", "logs", "1"} <= files
    assert "backup" not in files  # BackupAndRestore cleans up after success
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["model"] == "lenet5" and config["input_size"] == 32
    assert config["class_names"] == [str(i) for i in range(10)]
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert {"test_accuracy", "per_class_accuracy", "confusion_matrix",
            "skipped_files"} <= set(metrics)
    assert result.test_accuracy == metrics["test_accuracy"]
    assert os.path.exists(os.path.join(out, "1", "assets.extra", "metrics.json"))
    loaded = tf.saved_model.load(os.path.join(out, "1"))
    assert "serving_default" in loaded.signatures
    # What it prints is kzoo's story, not Keras's per-epoch bar, and every
    # number is rounded to what it means (at most 4 decimals).
    assert "Epoch 1/" not in printed.out + printed.err
    assert "lenet5: 1 epoch in " in printed.out
    decimals = re.findall(r"\d\.(\d+)", printed.out)
    assert decimals and max(len(d) for d in decimals) <= 4, printed.out
    # `kzoo evaluate` scores the export through its signature
    report_path = str(tmp_path / "eval.json")
    scored = run.run("evaluate", model=os.path.join(out, "1"), out=report_path)
    report = json.load(open(report_path))
    assert report["num_examples"] == 359
    assert scored.test_accuracy == report["accuracy"]
    # a second run into the same folder adds version 2
    assert run.run("train", smoke=True, out=given).saved_model == os.path.join(
        out, "2")
    assert {"1", "2"} <= set(os.listdir(out))


def test_augmented_smoke_run_records_its_policy(tmp_path):
    out = str(tmp_path / "run")
    policy = "flip,crop,randaugment(n=2,m=9),cutmix(alpha=1.0)"
    run.run("train", smoke=True, augment=policy, out=out, **FAST)
    out = smoke_dir(out)
    assert json.load(open(os.path.join(out, "config.json")))["augment"] == policy
    assert os.path.isdir(os.path.join(out, "1"))


@pytest.mark.large
def test_folder_with_bad_files_trains_to_the_end(tmp_path, capsys):
    root = make_bad_folder(str(tmp_path / "bad"))
    out = str(tmp_path / "run")
    result = run.run("train", data=root, epochs=2, input_size=16, val_fraction=0,
                     out=out)
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert result.metrics["skipped_files"] == metrics["skipped_files"] == 3
    assert sorted(os.path.basename(p) for p in metrics["skipped_file_paths"]) == [
        "corrupt.jpg", "notes.txt", "truncated.png"]
    printed = capsys.readouterr().out
    assert "skipped files: 3" in printed
    assert printed.count("  skipped: ") == 3
    assert os.path.isdir(os.path.join(out, "1"))


@pytest.mark.large
def test_default_main_job_reaches_97_percent_through_the_export(tmp_path):
    """README command (1): default `kzoo train` on digits, scored by
    `kzoo evaluate`."""
    out = str(tmp_path / "main")
    result = run.run("train", out=out)
    report_path = str(tmp_path / "eval.json")
    run.run("evaluate", model=os.path.join(out, "1"), data="digits",
            out=report_path)
    report = json.load(open(report_path))
    in_process = json.load(open(os.path.join(out, "metrics.json")))["test_accuracy"]
    assert result.test_accuracy == in_process
    assert report["accuracy"] == pytest.approx(in_process)
    assert report["accuracy"] >= 0.97
