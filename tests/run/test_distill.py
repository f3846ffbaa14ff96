"""`kzoo distill` end to end (--smoke), its exports scored by `kzoo evaluate`."""

import os

import pytest

from kzoo import run
from tests.run.helpers import (
    SERVED,
    kzoo,
    read_json,
    saved_lenet,
    score_export,
    smoke_dir,
)
from tests.run.helpers import (
    SMOKE as FAST,
)
from tests.run.helpers import (
    SMOKE_FLAGS as FAST_FLAGS,
)


@pytest.mark.large
def test_distill_reports_gap_closure_and_omitted_class(tmp_path, capsys):
    teacher = saved_lenet(tmp_path / "teacher.keras", 10)
    result = run.run("distill", teacher=teacher, student_width=0.25, omit_class="3",
                     out=str(tmp_path / "distill"), **dict(FAST, export=SERVED))
    out = smoke_dir(str(tmp_path / "distill"))
    report = read_json(out, "distill.json")
    rows = report["rows"]
    assert set(rows) == {"teacher", "student_alone", "distilled",
                         "distilled_bias_corrected"}
    assert report["size_ratio"] > 10
    assert "gap_closure" in report and report["omitted_class"] == "3"
    assert rows["distilled_bias_corrected"]["bias_shift"] >= 0.0
    # The result is the distilled student's, and the report is distill.json.
    assert result.out == out and result.report == report
    assert result.saved_model == rows["distilled"]["saved_model"]
    assert result.test_accuracy == rows["distilled"]["test_accuracy"]
    assert result.model.count_params() == rows["distilled"]["parameters"]
    printed = capsys.readouterr().out
    assert "class 3 (omitted from distillation)" in printed
    for phase in ("student alone", "distilled student"):
        assert f"\n== {phase}: lenet5" in printed and f"\n{phase}: 1 epoch" in printed
    assert 0.0 <= score_export(rows["distilled"]["saved_model"]) <= 1.0


@pytest.mark.large
def test_distill_trains_a_registered_teacher(tmp_path, capsys):
    result = run.run("distill", teacher="lenet5", teacher_width=0.5,
                     student_width=0.25, compare=False, out=str(tmp_path),
                     **dict(FAST, export=SERVED))
    rows = result.report["rows"]
    assert set(rows) == {"teacher", "distilled"}
    assert rows["teacher"]["parameters"] > rows["distilled"]["parameters"]
    config = read_json(result.out, "teacher", "config.json")
    assert config["role"] == "teacher" and config["input_size"] == 32
    assert os.path.isdir(rows["teacher"]["saved_model"])
    printed = capsys.readouterr().out
    assert "\n== teacher lenet5:" in printed and "\nteacher: 1 epoch" in printed


@pytest.mark.parametrize("flags, message", [
    (["--augment", "default", "--precompute"], "--precompute needs --augment none"),
    (["--unlabeled", "--omit-class", "3"], "--unlabeled and --omit-class do not mix"),
])
def test_distill_refuses_options_that_do_not_mix(tmp_path, capsys, flags, message):
    out = tmp_path / "distill"
    code, _, err = kzoo(capsys, "distill", *flags, "--out", out, *FAST_FLAGS)
    assert code == 2 and message in err
    assert not out.exists()  # refused before anything is written


def test_distill_on_the_unlabelled_pool_from_a_teacher_run_folder(tmp_path, capsys):
    # a kzoo run folder is a teacher: its model.keras is loaded
    teacher = tmp_path / "teacher_run"
    teacher.mkdir()
    saved_lenet(teacher / "model.keras", 10)
    capsys.readouterr()
    result = run.run("distill", teacher=str(teacher), compare=False,
                     labels_per_class=3, unlabeled=True,
                     out=str(tmp_path / "distill"), **FAST)
    printed = capsys.readouterr().out
    assert f"teacher: {teacher}; 32x32x1 images -> 10 classes" in printed
    config = read_json(result.out, "distilled", "config.json")
    # 30 labelled + the rest of the training split, unlabelled
    assert config["counts"]["train"] == 30 + config["counts"]["unlabeled"]
    assert config["unlabeled"] is True
