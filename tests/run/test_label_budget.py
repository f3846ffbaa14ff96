"""`kzoo label-budget`: the report calls the techniques as functions."""

import json
import os

import numpy as np
import pytest

from kzoo import run
from tests.run.helpers import kzoo, smoke_dir


@pytest.mark.large
def test_label_budget_report_smoke_on_an_image_folder(folder, tmp_path, capsys,
                                                      monkeypatch):
    options = dict(data=folder, input_size=16, budgets="2,all", seeds="0,1",
                   techniques="pseudo_label", out=str(tmp_path / "b"), smoke=True)
    calls = []
    real_run = run.run

    def recorded(*args, **kwargs):
        calls.append(args)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(run, "run", recorded)
    result = run.run("label-budget", **options)
    out = smoke_dir(options["out"])  # and each run's own --smoke folder below it
    assert result.out == out
    report = json.load(open(os.path.join(out, "report.json")))
    assert result.report == report
    # 2 seeds of pseudo-label at 2 labels per class, as library calls;
    # pseudo-labelling needs unlabelled images: nothing runs at 'all'
    assert [c[0] for c in calls[1:]] == ["pseudo-label", "pseudo-label"]
    cells = report["results"]["pseudo_label"]
    assert set(cells) == {"2", "all"} and cells["all"] is None
    assert len(cells["2"]["runs"]) == 2
    assert cells["2"]["min"] <= cells["2"]["mean"] <= cells["2"]["max"]
    assert os.path.exists(os.path.join(out, "report.png"))
    assert os.path.exists(
        os.path.join(out, "2", "pseudo_label", "seed1", "smoke", "1"))
    # the same command again reuses every finished run
    capsys.readouterr()
    calls.clear()
    run.run("label-budget", **options)
    assert capsys.readouterr().out.count("reusing") == 2
    assert len(calls) == 1  # the report itself: no technique ran again
    assert json.load(open(os.path.join(out, "report.json"))) == report
    # --fresh runs them again, and hands --fresh to each run
    calls.clear()
    seen = []
    monkeypatch.setattr(run, "run", lambda *args, **kwargs: seen.append(
        kwargs.get("fresh")) or recorded(*args, **kwargs))
    run.run("label-budget", fresh=True, **options)
    assert capsys.readouterr().out.count("reusing") == 0
    assert [c[0] for c in calls] == ["label-budget", "pseudo-label", "pseudo-label"]
    assert seen == [True, True, True]


@pytest.mark.large
def test_a_fully_labelled_cell_trains_supervised_for_about_steps_updates(
        folder, tmp_path):
    result = run.run("label-budget", data=folder, input_size=16, budgets="all",
                     seeds="0", techniques="supervised", out=str(tmp_path),
                     smoke=True, steps=40)
    cell = result.report["results"]["supervised"]["all"]
    assert len(cell["runs"]) == 1 and 0 <= cell["mean"] <= 1
    seed0 = os.path.join(result.out, "all", "supervised", "seed0")
    recorded = json.load(open(os.path.join(seed0, "label_budget_run.json")))
    # 'all' sets no budget; 24 labelled images at batch 16 are 2 steps per
    # pass: 40 steps are 20 epochs (within [15, 400])
    assert recorded["options"]["labels_per_class"] is None
    assert recorded["options"]["epochs"] == 20
    assert recorded["test_accuracy"] == cell["runs"][0]


def test_label_budget_rejects_unknown_techniques_and_budgets(tmp_path, capsys):
    code, _, err = kzoo(capsys, "label-budget", "--techniques", "magic",
                        "--out", tmp_path)
    assert code == 2 and "magic" in err
    code, _, err = kzoo(capsys, "label-budget", "--budgets", "0", "--out", tmp_path)
    assert code == 2 and "--budgets" in err


@pytest.mark.large
def test_fixmatch_techniques_run_as_their_commands(tmp_path, monkeypatch):
    calls = []
    real_run = run.run

    def recorded(command, **kwargs):
        calls.append((command, kwargs))
        return real_run(command, **kwargs)

    monkeypatch.setattr(run, "run", recorded)
    result = run.run("label-budget", budgets="1,all", seeds="0", smoke=True,
                     techniques="fixmatch,flexmatch,fixmatch_noisy_student",
                     out=str(tmp_path / "b"))
    runs = [(c, k.get("variant"), k.get("teacher_method")) for c, k in calls[1:]]
    # The last is noisy-student's FixMatch teacher, run the same way.
    assert runs == [("fixmatch", "fixmatch", None), ("fixmatch", "flexmatch", None),
                    ("noisy-student", None, "fixmatch"), ("fixmatch", None, None)]
    for name in ("fixmatch", "flexmatch", "fixmatch_noisy_student"):
        cells = result.report["results"][name]
        assert cells["all"] is None and len(cells["1"]["runs"]) == 1


def test_the_other_fixmatch_variants_and_fixmatch_noisy_student_are_opt_in():
    from kzoo.run.label_budget import BY_NAME, select_techniques

    chosen = select_techniques(run.configure("label-budget"))
    assert "fixmatch" in chosen
    for name in ("flexmatch", "freematch", "softmatch", "fixmatch_noisy_student"):
        assert name not in chosen
        assert name in select_techniques(run.configure("label-budget",
                                                       techniques=name))
    # Every `kzoo fixmatch --variant` is a line, run with that variant.
    for variant in run.configure("fixmatch").command.option("variant").choices:
        assert BY_NAME[variant].fixed == {"variant": variant}


@pytest.mark.large
def test_label_budget_with_selection_trains_on_the_chosen_images(tmp_path):
    from kzoo.data import load_data

    out = str(tmp_path / "s")
    result = run.run("label-budget", budgets="10", seeds="0",
                     techniques="supervised", selection="random,typiclust+margin",
                     out=out, smoke=True)
    report = result.report
    assert report["budget_unit"] == "images" and report["embedding"] == "pixels"
    assert set(report["results"]) == {"supervised (random)",
                                      "supervised (typiclust+margin)"}
    labels = np.array([int(y) for _, y in load_data("digits", seed=0).train])
    root = smoke_dir(out)
    for spec in ("random", "typiclust+margin"):
        row = f"supervised ({spec})"
        chosen = report["selected"][row]["10"]["0"]
        assert len(set(chosen)) == 10
        assert report["coverage"][row]["10"] == [len(set(labels[chosen]))]
        cell = os.path.join(root, "10", spec, "supervised", "seed0")
        recorded = json.load(open(os.path.join(cell, "label_budget_run.json")))
        assert recorded["options"]["labeled_indices"] == sorted(chosen)
        assert recorded["options"]["labels_per_class"] is None
    # two rounds: the first 5 by typiclust, trained on, then 5 by margin
    first = json.load(open(os.path.join(
        root, "10", "typiclust+margin", "supervised", "seed0", "round1",
        "label_budget_run.json")))["options"]["labeled_indices"]
    chosen = report["selected"]["supervised (typiclust+margin)"]["10"]["0"]
    assert len(first) == 5 and sorted(chosen[:5]) == first


def test_label_budget_selection_errors(tmp_path, capsys):
    base = ["label-budget", "--smoke", "--out", tmp_path / "e", "--seeds", "0"]
    for argv, words in (
            (["--selection", "typiclust", "--budgets", "all"], "never 'all'"),
            (["--selection", "nope"], "--selection takes strategies"),
            (["--selection", "margin"], "only be the second round"),
            (["--selection", "typiclust+margin+entropy"], "FIRST+SECOND"),
            (["--selection", "typiclust", "--budgets", "5000"], "below 1295"),
            (["--selection", "typiclust+margin", "--budgets", "1"], "2 or more")):
        code, _, err = kzoo(capsys, *base, *argv)
        assert code == 2 and words in err, err
    assert not os.path.exists(tmp_path / "e")
