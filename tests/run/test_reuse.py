"""`run_recorded`: another command run through `kzoo.run.run` with explicit
options, reused while its record says the same options finished."""

import json
import types

import pytest

import kzoo.run
from kzoo.run.label_budget import upgrade_options
from kzoo.run.reuse import run_recorded


@pytest.fixture
def runs(monkeypatch):
    calls = []

    def fake_run(command, **options):
        calls.append((command, options))
        return types.SimpleNamespace(test_accuracy=0.5, out=options["out"])

    monkeypatch.setattr(kzoo.run, "run", fake_run)
    return calls


def test_the_same_options_reuse_the_record_and_others_run_again(tmp_path, runs):
    record = str(tmp_path / "cell" / "done.json")
    options = {"variant": "freematch", "seed": 0, "out": str(tmp_path / "cell")}
    first, result = run_recorded("fixmatch", options, record)
    assert result is not None and len(runs) == 1 and runs[0][1]["fresh"] is False
    with open(record) as f:
        assert json.load(f)["options"] == options
    again, result = run_recorded("fixmatch", options, record)
    assert result is None and again == first and len(runs) == 1
    # Other options, another command, or --fresh: it runs.
    run_recorded("fixmatch", dict(options, seed=1), record)
    run_recorded("train", dict(options, seed=1), record)
    run_recorded("train", dict(options, seed=1), record, fresh=True)
    assert len(runs) == 4 and runs[-1][1]["fresh"] is True


def test_a_cell_recorded_with_the_old_flexmatch_switch_is_reused(tmp_path, runs):
    record = tmp_path / "done.json"
    old = {"model": "lenet5", "flexmatch": True, "seed": 0}
    record.write_text(json.dumps({"command": "fixmatch", "options": old,
                                  "test_accuracy": 0.97, "out": "x"}))
    now = {"model": "lenet5", "variant": "flexmatch", "seed": 0}
    recorded, result = run_recorded("fixmatch", now, str(record),
                                    upgrade=upgrade_options)
    assert result is None and recorded["test_accuracy"] == 0.97 and runs == []
    assert upgrade_options({"flexmatch": False}) == {"variant": "fixmatch"}
    # Without the upgrade the old record does not match: it would run again.
    run_recorded("fixmatch", dict(now, out="y"), str(record))
    assert len(runs) == 1
