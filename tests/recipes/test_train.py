import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kzoo.cli import run_main
from kzoo.testing import make_image_folder
from tests.data.test_loader import make_bad_folder
from tests.recipes.helpers import load_recipe, run_recipe, smoke_dir

train = load_recipe("train")
evaluate = load_recipe("evaluate")


def test_smoke_run_writes_everything_and_the_export_scores(tmp_path):
    given = str(tmp_path / "run")
    result = run_recipe("train", "--smoke", "--out", given)
    assert result.returncode == 0, result.stderr[-3000:]
    out = smoke_dir(given)
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
    assert os.path.exists(os.path.join(out, "1", "assets.extra", "metrics.json"))
    loaded = tf.saved_model.load(os.path.join(out, "1"))
    assert "serving_default" in loaded.signatures
    # evaluate.py scores the export through its signature
    code = run_main(evaluate.main, ["--model", os.path.join(out, "1"),
                                    "--out", str(tmp_path / "eval.json")])
    assert code == 0
    report = json.load(open(tmp_path / "eval.json"))
    assert report["num_examples"] == 359
    # a second run into the same folder adds version 2
    assert run_main(train.main, ["--smoke", "--out", given]) == 0
    assert {"1", "2"} <= set(os.listdir(out))


def test_augmented_smoke_run_records_its_policy(tmp_path):
    out = str(tmp_path / "run")
    policy = "flip,crop,randaugment(n=2,m=9),cutmix(alpha=1.0)"
    assert run_main(train.main, ["--smoke", "--augment", policy, "--out", out]) == 0
    out = smoke_dir(out)
    assert json.load(open(os.path.join(out, "config.json")))["augment"] == policy
    assert os.path.isdir(os.path.join(out, "1"))


def test_folder_with_bad_files_trains_to_the_end(tmp_path, capsys):
    root = make_bad_folder(str(tmp_path / "bad"))
    out = str(tmp_path / "run")
    code = run_main(train.main, ["--data", root, "--epochs", "2", "--input-size",
                                 "16", "--val-fraction", "0", "--out", out])
    assert code == 0
    metrics = json.load(open(os.path.join(out, "metrics.json")))
    assert metrics["skipped_files"] == 3
    assert sorted(os.path.basename(p) for p in metrics["skipped_file_paths"]) == [
        "corrupt.jpg", "notes.txt", "truncated.png"]
    assert "skipped files: 3" in capsys.readouterr().out
    assert os.path.isdir(os.path.join(out, "1"))


def _error_case(kind, tmp_path):
    if kind == "unknown_spec":
        return ["--data", "no-such-data"], "Unknown data spec"
    if kind == "budget":
        return ["--labels-per-class", "1000"], "labels_per_class=1000"
    if kind == "augment":
        return ["--augment", "crop,blur"], "unknown augmentation 'blur'; valid names:"
    root = tmp_path / "ds"
    if kind == "empty_class":
        make_image_folder(str(root), per_class=3, size=8)
        os.makedirs(root / "train" / "empty")
        return ["--data", str(root)], "has no files"
    os.makedirs(root / "train" / "a")
    (root / "train" / "a" / "x.txt").write_text("text")
    return ["--data", str(root)], "No decodable images"


@pytest.mark.parametrize("kind", ["unknown_spec", "budget", "augment", "empty_class",
                                  "no_images"])
def test_errors_give_one_line_and_write_nothing(kind, tmp_path, capsys):
    args, match = _error_case(kind, tmp_path)
    out = tmp_path / "run"
    code = run_main(train.main, args + ["--out", str(out)])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0]
    assert not out.exists()


def test_config_file_under_explicit_flags(tmp_path):
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps({"epochs": 7, "batch-size": 16, "model": "vgg11"}))
    args = train.cli.parse_args(train.build_parser(),
                                ["--config", str(config), "--model", "lenet5"])
    assert (args.epochs, args.batch_size, args.model) == (7, 16, "lenet5")
    config.write_text(json.dumps({"epochz": 7}))
    with pytest.raises(ValueError, match="epochz"):
        train.cli.parse_args(train.build_parser(), ["--config", str(config)])


def test_info_prints_receptive_field_table(capsys):
    info = load_recipe("info")
    assert info.main(["--model", "vgg16"]) == 0
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("block5_conv3"))
    assert " 196 " in row
    assert "138,357,544" in text
    np.testing.assert_equal(info.main(["--model", "lenet5"]), 0)


def test_default_main_job_reaches_97_percent_through_the_export(tmp_path):
    """README command (1): default train.py on digits, scored by evaluate.py."""
    out = str(tmp_path / "main")
    assert run_main(train.main, ["--out", out]) == 0
    code = run_main(evaluate.main, ["--model", os.path.join(out, "1"),
                                    "--data", "digits",
                                    "--out", str(tmp_path / "eval.json")])
    assert code == 0
    report = json.load(open(tmp_path / "eval.json"))
    in_process = json.load(open(os.path.join(out, "metrics.json")))["test_accuracy"]
    assert report["accuracy"] == pytest.approx(in_process)
    assert report["accuracy"] >= 0.97
