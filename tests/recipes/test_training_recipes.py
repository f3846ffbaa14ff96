"""transfer.py, distill.py and lwf.py end to end (--smoke), scored by evaluate.py."""

import json
import os

import keras
import pytest

from kzoo.cli import run_main
from kzoo.models import create_model
from tests.recipes.helpers import load_recipe, score_export, smoke_dir

transfer = load_recipe("transfer")
distill = load_recipe("distill")
lwf = load_recipe("lwf")
FAST = ["--smoke", "--no-jit-compile", "--steps-per-execution", "1"]
OLD, NEW = "0,1,2,3,4", "5,6,7,8,9"


def _saved_lenet(path, num_classes):
    keras.utils.set_random_seed(0)
    model = create_model("lenet5", num_classes=num_classes, input_shape=(32, 32, 1))
    model.save(path)
    return path


def test_transfer_all_modes_export_scoreable_models(tmp_path, capsys):
    source = _saved_lenet(str(tmp_path / "source.keras"), 5)
    out = str(tmp_path / "transfer")
    code = run_main(
        transfer.main,
        [
            "--source",
            source,
            "--classes",
            NEW,
            "--labels-per-class",
            "5",
            "--mode",
            "all",
            "--out",
            out,
            *FAST,
        ],
    )
    assert code == 0
    out = smoke_dir(out)
    table = json.load(open(os.path.join(out, "transfer.json")))
    assert set(table) == {"head", "finetune", "scratch"}
    config = json.load(open(os.path.join(out, "finetune", "config.json")))
    assert config["transfer_mode"] == "finetune" and config["classes"] == NEW.split(",")
    accuracy = score_export(table["head"]["saved_model"], capsys, "--classes", NEW)
    assert 0.0 <= accuracy <= 1.0


def test_distill_reports_gap_closure_and_omitted_class(tmp_path, capsys):
    teacher = _saved_lenet(str(tmp_path / "teacher.keras"), 10)
    out = str(tmp_path / "distill")
    code = run_main(
        distill.main,
        [
            "--teacher",
            teacher,
            "--student-width",
            "0.25",
            "--omit-class",
            "3",
            "--out",
            out,
            *FAST,
        ],
    )
    assert code == 0
    out = smoke_dir(out)
    report = json.load(open(os.path.join(out, "distill.json")))
    rows = report["rows"]
    assert set(rows) == {
        "teacher",
        "student_alone",
        "distilled",
        "distilled_bias_corrected",
    }
    assert report["size_ratio"] > 10
    assert "gap_closure" in report and report["omitted_class"] == "3"
    assert rows["distilled_bias_corrected"]["bias_shift"] >= 0.0
    printed = capsys.readouterr().out
    assert "class 3 (omitted from distillation)" in printed
    assert 0.0 <= score_export(rows["distilled"]["saved_model"], capsys) <= 1.0


def test_distill_refuses_precompute_with_augmentation(capsys):
    code = run_main(distill.main, ["--augment", "default", "--precompute", *FAST])
    assert code == 2 and "--precompute needs --augment none" in capsys.readouterr().err


def test_lwf_exports_one_model_serving_both_tasks(tmp_path, capsys):
    old = _saved_lenet(str(tmp_path / "old.keras"), 5)
    out = str(tmp_path / "lwf")
    code = run_main(
        lwf.main,
        [
            "--old-model",
            old,
            "--old-classes",
            OLD,
            "--classes",
            NEW,
            "--warmup-epochs",
            "1",
            "--out",
            out,
            *FAST,
        ],
    )
    assert code == 0
    out = smoke_dir(out)
    table = json.load(open(os.path.join(out, "lwf.json")))
    assert set(table["methods"]) == {"feature", "finetune", "lwf"}
    version = table["methods"]["lwf"]["saved_model"]
    for task, classes in (("old", OLD), ("new", NEW)):
        accuracy = score_export(version, capsys, "--task", task, "--classes", classes)
        assert 0.0 <= accuracy <= 1
    code = run_main(load_recipe("evaluate").main, ["--model", version])
    assert code == 2 and "--task" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--old-classes", "0,1,2"], "--old-classes names 3"),
    ],
)
def test_lwf_checks_the_old_classes(tmp_path, capsys, flags, message):
    old = _saved_lenet(str(tmp_path / "old.keras"), 5)
    code = run_main(lwf.main, ["--old-model", old, *flags, *FAST])
    assert code == 2 and message in capsys.readouterr().err


def test_distill_on_the_unlabelled_pool(tmp_path):
    teacher = _saved_lenet(str(tmp_path / "teacher.keras"), 10)
    out = str(tmp_path / "distill")
    flags = ["--teacher", teacher, "--no-compare", "--labels-per-class", "3",
             "--unlabeled", "--out", out, *FAST]
    assert run_main(distill.main, flags) == 0
    config = json.load(open(os.path.join(smoke_dir(out), "distilled", "config.json")))
    # 30 labelled + the rest of the training split, unlabelled
    assert config["counts"]["train"] == 30 + config["counts"]["unlabeled"]
    assert config["unlabeled"] is True
