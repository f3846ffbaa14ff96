import json
import os

import numpy as np
from PIL import Image

from kzoo.cli import run_main
from kzoo.export import SERVING_TENSORS, load_serving_signature
from tests.recipes.helpers import load_recipe, smoke_dir

preview = load_recipe("augment_preview")
search = load_recipe("randaugment_search")
FAST = ["--no-jit-compile", "--steps-per-execution", "1"]


def test_preview_writes_a_grid_png(tmp_path, capsys):
    out = str(tmp_path / "grid.png")
    code = run_main(
        preview.main,
        [
            "--augment",
            "crop,randaugment(n=2,m=9),mixup",
            "--images",
            "3",
            "--draws",
            "2",
            "--out",
            out,
        ],
    )
    assert code == 0 and "wrote" in capsys.readouterr().out
    pixels = np.asarray(Image.open(out))
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200 and pixels.std() > 10


def test_preview_label_text():
    names = ["cat", "dog", "eel"]
    assert preview.label_text(np.array([0.0, 1.0, 0.0]), names) == "dog"
    assert preview.label_text(np.array([0.3, 0.7, 0.0]), names) == "dog 0.70 / cat 0.30"


def test_search_records_a_failed_trial_and_goes_on(tmp_path, monkeypatch, capsys):
    real = search.train_and_score
    calls = []

    def failing_first(args, data, spec, split):
        calls.append((spec, split))
        if len(calls) == 1:
            raise RuntimeError("simulated trial crash")
        return real(args, data, spec, split)

    monkeypatch.setattr(search, "train_and_score", failing_first)
    out = str(tmp_path / "search")
    code = run_main(search.main, ["--smoke", "--trials", "2", "--out", out, *FAST])
    assert code == 0
    out = smoke_dir(out)
    record = json.load(open(os.path.join(out, "search.json")))
    first, second = record["trials"]
    assert "simulated trial crash" in first["error"] and "val_accuracy" not in first
    assert 0.0 <= second["val_accuracy"] <= 1.0 and second["seconds"] > 0
    assert record["best"]["n"] == second["n"] and record["failed_trials"] == 1
    assert 0.0 <= record["baseline"]["test_accuracy"] <= 1.0
    # trials were scored on validation; only the two final runs saw the test split
    assert [split for _, split in calls] == ["val", "val", "test", "test"]
    assert calls[-1][0] == "none"
    assert os.path.getsize(os.path.join(out, "heatmap.png")) > 1000
    serve = load_serving_signature(record["saved_model"], SERVING_TENSORS)
    probabilities = serve(images=np.zeros((2, 32, 32, 1), "float32"))["probabilities"]
    np.testing.assert_allclose(np.asarray(probabilities).sum(axis=1), 1.0, atol=1e-5)
    assert "FAILED (RuntimeError: simulated trial crash)" in capsys.readouterr().out


def test_search_pairs_are_seeded_and_grid_is_complete():
    args = search.build_parser().parse_args(["--trials", "4"])
    pairs = search.sample_pairs(args)
    assert len(set(pairs)) == 4 and pairs == search.sample_pairs(args)
    grid = search.build_parser().parse_args(
        ["--sampler", "grid", "--n-values", "1,2", "--m-values", "5,9"]
    )
    assert search.sample_pairs(grid) == [(1, 5), (1, 9), (2, 5), (2, 9)]


def test_search_template_must_have_placeholders(tmp_path, capsys):
    code = run_main(search.main, ["--augment", "crop", "--out", str(tmp_path / "s")])
    assert code == 2 and "{n} and {m}" in capsys.readouterr().err


def test_search_rerun_keeps_the_finished_trials_of_the_same_config(
        tmp_path, monkeypatch):
    path = str(tmp_path / "search.json")
    config = {"augment": search.TEMPLATE, "trials": 3}
    first = search.SearchRecord(path, config)
    first["trials"].append({"trial": 0, "n": 1, "m": 5, "val_accuracy": 0.5})
    first.save()
    assert search.SearchRecord(path, dict(config, trials=4))["trials"] == []
    again = search.SearchRecord(path, config)
    assert again["trials"] == first["trials"]

    scored = []
    monkeypatch.setattr(search, "train_and_score",
                        lambda args, data, spec, split: scored.append(spec) or (
                            None, 0.25))
    args = search.build_parser().parse_args([])
    search.run_trials(args, None, [(1, 5), (2, 9)], again)
    assert scored == [search.TEMPLATE.format(n=2, m=9)]  # trial 0 not rerun
    assert [t["trial"] for t in again["trials"]] == [0, 1]
