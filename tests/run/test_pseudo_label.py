"""`kzoo pseudo-label` end to end (--smoke), its exports scored by `kzoo evaluate`;
and the pieces Noisy Student shares."""

import os

import pytest

from kzoo import run
from kzoo.errors import KzooError
from kzoo.run import pseudo_label as pl
from kzoo.run import semi
from tests.run.helpers import (
    RAW_FLOAT,
    SERVED,
    kzoo,
    read_json,
    score_export,
    smoke_dir,
)
from tests.run.helpers import (
    SMOKE as FAST,
)
from tests.run.helpers import (
    SMOKE_FLAGS as FAST_FLAGS,
)


def test_pseudo_label_smoke_exports_a_scoreable_network(tmp_path, capsys):
    result = run.run("pseudo-label", out=str(tmp_path / "pl"), threshold=0.9,
                     soft=True, **dict(FAST, export=SERVED))
    out = smoke_dir(str(tmp_path / "pl"))
    assert result.command == "pseudo-label" and result.out == out
    config = read_json(out, "config.json")
    assert (config["t1"], config["t2"]) == (6, 36)  # 10% / 60% of 60 epochs
    assert config["labels_per_class"] == semi.DEFAULT_LABELS_PER_CLASS  # demo budget
    assert config["counts"]["train"] == 50
    assert config["counts"]["unlabeled"] > 1000
    with open(os.path.join(out, "training_log.csv")) as f:
        log = f.read()
    assert "unlabeled_loss" in log and "mask_rate" in log
    # the served network, not the training wrapper, is returned and exported
    assert result.model.name == "lenet5"
    assert result.saved_model == os.path.join(out, "1")
    printed = capsys.readouterr().out
    assert "pseudo-label: 1 epoch" in printed  # one bar for the one phase
    assert not RAW_FLOAT.search(printed), printed
    accuracy = score_export(result.saved_model, data="digits")
    assert 0.0 <= accuracy <= 1.0
    assert accuracy == pytest.approx(result.test_accuracy, abs=0.2)


@pytest.mark.large
def test_pseudo_label_on_an_image_folder(folder, tmp_path):
    result = run.run("pseudo-label", data=folder, input_size=16,
                     labels_per_class=5, out=str(tmp_path / "pl"),
                     **dict(FAST, export=SERVED))
    config = read_json(result.out, "config.json")
    # of each class's 8: 1 validation, 5 labelled, 2 unlabelled (+ 30 files)
    counts = config["counts"]
    assert (counts["val"], counts["train"], counts["unlabeled"]) == (3, 15, 36)
    accuracy = score_export(os.path.join(result.out, "1"), data=folder)
    assert 0.0 <= accuracy <= 1.0


def test_pseudo_label_without_unlabelled_images_is_a_clear_error(tmp_path, capsys):
    code, _, err = kzoo(capsys, "pseudo-label", "--label-fraction", "1.0",
                        "--out", tmp_path, *FAST_FLAGS)
    assert code == 2
    assert "No unlabelled images" in err


def test_ramp_epochs_default_to_10_and_60_percent_of_the_epochs():
    config = run.configure("pseudo-label", epochs=60)
    assert pl.ramp_epochs(config) == (6, 36)
    assert pl.ramp_epochs(config.replace(t1=50)) == (50, 50)  # t2 >= t1
    assert pl.ramp_epochs(config.replace(t1=2, t2=4)) == (2, 4)
    with pytest.raises(KzooError, match="t1=5, t2=3"):
        pl.ramp_epochs(config.replace(t1=5, t2=3))


def test_the_pool_is_cached_below_the_limit_unless_the_flag_says():
    class Data:
        image_shape = (32, 32, 3)

    config = run.configure("pseudo-label")
    assert semi.cache_pool(config, Data, 1000)
    assert not semi.cache_pool(config, Data, semi.CACHE_LIMIT_BYTES)  # 12 KiB each
    assert not semi.cache_pool(config.replace(cache_pool=False), Data, 1000)
    assert semi.cache_pool(config.replace(cache_pool=True), Data, 10**9)


def test_the_demo_budget_applies_to_the_bundled_digits_only(folder, capsys):
    digits = run.configure("pseudo-label")
    assert semi.with_budget(digits).labels_per_class == 5
    assert "demo budget" in capsys.readouterr().out
    assert semi.with_budget(digits.replace(label_fraction=0.5)).labels_per_class is None
    own = run.configure("pseudo-label", data=folder)
    assert semi.with_budget(own).labels_per_class is None
    assert "every labelled training image" in capsys.readouterr().out
