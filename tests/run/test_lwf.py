"""`kzoo lwf` end to end (--smoke): one export serving both tasks."""

import json
import os

import keras
import numpy as np
import pytest

from kzoo import run
from tests.run.helpers import (
    SERVED,
    kzoo,
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

OLD, NEW = "0,1,2,3,4", "5,6,7,8,9"


@pytest.mark.large
def test_lwf_exports_one_model_serving_both_tasks(tmp_path, capsys):
    old = saved_lenet(tmp_path / "old.keras", 5)
    result = run.run("lwf", old_model=old, old_classes=OLD, classes=NEW,
                     warmup_epochs=1, out=str(tmp_path / "lwf"),
                     **dict(FAST, export=SERVED))
    out = smoke_dir(str(tmp_path / "lwf"))
    with open(os.path.join(out, "lwf.json")) as f:
        table = json.load(f)
    assert set(table["methods"]) == {"feature", "finetune", "lwf"}
    assert result.report == table and result.saved_model is None  # three models
    printed = capsys.readouterr().out
    assert "\nfeature warm-up: 1 epoch" in printed
    assert "\nfeature joint" not in printed and "\nlwf joint: 1 epoch" in printed
    version = table["methods"]["lwf"]["saved_model"]
    for task, classes in (("old", OLD), ("new", NEW)):
        assert 0.0 <= score_export(version, task=task, classes=classes) <= 1
    code, _, err = kzoo(capsys, "evaluate", "--model", version)
    assert code == 2 and "--task" in err


def test_lwf_finetune_keeps_the_old_head(tmp_path):
    old = saved_lenet(tmp_path / "old.keras", 5)
    result = run.run("lwf", old_model=old, old_classes=OLD, classes=NEW,
                     method="finetune", warmup_epochs=1, out=str(tmp_path),
                     **dict(FAST, export=SERVED))
    assert set(result.report["methods"]) == {"finetune"}
    assert result.saved_model == result.report["methods"]["finetune"]["saved_model"]
    assert set(result.metrics) == {"new_task", "old_task"}
    before = keras.models.load_model(old).get_layer("predictions").get_weights()
    after = result.model.get_layer("predictions").get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_lwf_checks_the_old_classes(tmp_path, capsys):
    old = saved_lenet(tmp_path / "old.keras", 5)
    code, _, err = kzoo(capsys, "lwf", "--old-model", old, "--old-classes", "0,1,2",
                        "--out", tmp_path / "lwf", *FAST_FLAGS)
    assert code == 2 and "--old-classes names 3" in err
    assert not (tmp_path / "lwf").exists()
