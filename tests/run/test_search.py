"""`kzoo search`: trials scored on validation, failed trials recorded, resume."""

import json
import os

import numpy as np
import pytest

from kzoo import run
from kzoo.export import SERVING_TENSORS, load_serving_signature
from kzoo.run import search
from kzoo.run.commands.search import SEARCH_TEMPLATE
from tests.run.helpers import SERVED, kzoo, smoke_dir
from tests.run.helpers import SMOKE as FAST


@pytest.mark.large
def test_search_records_a_failed_trial_and_goes_on(tmp_path, monkeypatch, capsys):
    real = search.train_and_score
    calls = []

    def failing_first(config, data, spec, split, out, phase):
        calls.append((spec, split, phase))
        if len(calls) == 1:
            raise RuntimeError("simulated trial crash")
        return real(config, data, spec, split, out, phase)

    monkeypatch.setattr(search, "train_and_score", failing_first)
    result = run.run("search", trials=2, out=str(tmp_path / "search"),
                     **dict(FAST, export=SERVED))
    out = smoke_dir(str(tmp_path / "search"))
    record = json.load(open(os.path.join(out, "search.json")))
    assert result.report == record and result.out == out
    first, second = record["trials"]
    assert "simulated trial crash" in first["error"] and "val_accuracy" not in first
    assert 0.0 <= second["val_accuracy"] <= 1.0 and second["seconds"] > 0
    assert record["best"]["n"] == second["n"] and record["failed_trials"] == 1
    assert 0.0 <= record["baseline"]["test_accuracy"] <= 1.0
    assert result.test_accuracy == record["best"]["test_accuracy"]
    # trials were scored on validation; only the two final runs saw the test split
    assert [split for _, split, _ in calls] == ["val", "val", "test", "test"]
    assert calls[-1][0] == "none"
    assert [phase for *_, phase in calls][1:] == [
        f"trial 2/2 N={second['n']} M={second['m']}", "best", "baseline"]
    assert os.path.getsize(os.path.join(out, "heatmap.png")) > 1000
    assert os.path.exists(os.path.join(out, "trials", "trial1", "training_log.csv"))
    serve = load_serving_signature(record["saved_model"], SERVING_TENSORS)
    probabilities = serve(images=np.zeros((2, 32, 32, 1), "float32"))["probabilities"]
    np.testing.assert_allclose(np.asarray(probabilities).sum(axis=1), 1.0, atol=1e-5)
    printed = capsys.readouterr().out
    assert "FAILED (RuntimeError: simulated trial crash)" in printed
    assert f"== trial 2/2 N={second['n']} M={second['m']}: policy" in printed
    assert "labels: 10 per class, the demo budget" in printed


def test_search_pairs_are_seeded_and_grid_is_complete():
    config = run.configure("search", trials=4)
    pairs = search.sample_pairs(config)
    assert len(set(pairs)) == 4 and pairs == search.sample_pairs(config)
    grid = run.configure("search", sampler="grid", n_values="1,2", m_values="5,9")
    assert search.sample_pairs(grid) == [(1, 5), (1, 9), (2, 5), (2, 9)]


def test_search_template_must_have_placeholders(tmp_path, capsys):
    code, _, err = kzoo(capsys, "search", "--augment", "crop",
                        "--out", tmp_path / "s")
    assert code == 2 and "{n} and {m}" in err


def test_search_needs_a_validation_split(tmp_path, capsys):
    code, _, err = kzoo(capsys, "search", "--val-fraction", "0",
                        "--out", tmp_path / "s")
    assert code == 2 and "--val-fraction must be > 0" in err


def test_search_rerun_keeps_the_finished_trials_of_the_same_config(
        tmp_path, monkeypatch):
    path = str(tmp_path / "search.json")
    config = {"augment": SEARCH_TEMPLATE, "trials": 3}
    first = search.SearchRecord(path, config)
    first["trials"].append({"trial": 0, "n": 1, "m": 5, "val_accuracy": 0.5})
    first.save()
    assert search.SearchRecord(path, dict(config, trials=4))["trials"] == []
    again = search.SearchRecord(path, config)
    assert again["trials"] == first["trials"]
    assert search.SearchRecord(path, config, fresh=True)["trials"] == []

    scored = []
    monkeypatch.setattr(search, "train_and_score",
                        lambda config, data, spec, split, out, phase:
                        scored.append(spec) or (None, 0.25))
    search.run_trials(run.configure("search"), None, [(1, 5), (2, 9)], again,
                      str(tmp_path))
    assert scored == [SEARCH_TEMPLATE.format(n=2, m=9)]  # trial 0 not rerun
    assert [t["trial"] for t in again["trials"]] == [0, 1]
