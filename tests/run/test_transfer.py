"""`kzoo transfer` end to end (--smoke), its exports scored by `kzoo evaluate`."""

import json
import os

import keras
import numpy as np
import pytest

from kzoo import run
from kzoo.errors import KzooError
from tests.run.helpers import SERVED, saved_lenet, score_export, smoke_dir
from tests.run.helpers import SMOKE as FAST

NEW = "5,6,7,8,9"


@pytest.mark.large
def test_transfer_all_modes_export_scoreable_models(tmp_path, capsys):
    source = saved_lenet(tmp_path / "source.keras", 5)
    result = run.run("transfer", source=source, classes=NEW, labels_per_class=5,
                     mode="all", out=str(tmp_path / "transfer"),
                     **dict(FAST, export=SERVED))
    out = smoke_dir(str(tmp_path / "transfer"))
    with open(os.path.join(out, "transfer.json")) as f:
        table = json.load(f)
    assert set(table) == {"head", "finetune", "scratch"}
    assert result.report == table and result.saved_model is None  # three models
    with open(os.path.join(out, "finetune", "config.json")) as f:
        config = json.load(f)
    assert config["transfer_mode"] == "finetune" and config["classes"] == NEW.split(",")
    printed = capsys.readouterr().out
    for mode in table:
        assert f"\n== {mode}: " in printed and f"\n{mode}: 1 epoch" in printed
    assert 0.0 <= score_export(table["head"]["saved_model"], classes=NEW) <= 1.0


def test_transfer_head_trains_only_the_new_head(tmp_path):
    source = saved_lenet(tmp_path / "source.keras", 5)
    result = run.run("transfer", source=source, classes=NEW, out=str(tmp_path),
                     **dict(FAST, export=SERVED))
    assert result.saved_model == result.report["head"]["saved_model"]
    assert result.test_accuracy == result.report["head"]["test_accuracy"]
    original = keras.models.load_model(source)
    for layer in result.model.get_layer("backbone").layers:
        if layer.weights:
            before = original.get_layer(layer.name).get_weights()
            assert all(np.array_equal(a, b)
                       for a, b in zip(before, layer.get_weights()))


def test_transfer_refuses_an_unknown_feature_layer_before_writing(tmp_path):
    source = saved_lenet(tmp_path / "source.keras", 5)
    out = tmp_path / "transfer"
    with pytest.raises(KzooError, match="has no layer 'nope'"):
        run.run("transfer", source=source, classes=NEW, feature_layer="nope",
                out=str(out), **FAST)
    assert not out.exists()


@pytest.mark.large
def test_transfer_source_run_folder(folder, tmp_path):
    """--source RUN_DIR: the folder a `kzoo train` run wrote (its model.keras)."""
    small = dict(data=folder, input_size=16, channels=1, **FAST)
    trained = run.run("train", classes="a,b",  # SMOKE exports keras
                      out=str(tmp_path / "ab"), **small)
    result = run.run("transfer", source=trained.out, classes="b,c",
                     out=str(tmp_path / "transfer"), **small)
    assert result.model.output_shape == (None, 2)
    original = keras.models.load_model(os.path.join(trained.out, "model.keras"))
    for layer in result.model.get_layer("backbone").layers:
        if layer.weights:
            for a, b in zip(original.get_layer(layer.name).get_weights(),
                            layer.get_weights()):
                np.testing.assert_array_equal(a, b)


def _head_weights(result):
    return [np.asarray(w) for w in result.model.get_layer("predictions").weights]


def test_head_on_cached_features_equals_the_frozen_end_to_end_head(
        tmp_path, capsys, monkeypatch):
    """The same head, whether the backbone ran once per image (cached
    features) or once per image per step (the fallback for features too
    large to cache, forced here): same batches, same order, same updates."""
    from kzoo.run import transfer

    source = saved_lenet(tmp_path / "source.keras", 5)
    options = dict(FAST, smoke=False, source=source, classes=NEW,
                   labels_per_class=20, epochs=3, head_dropout=0.2)
    cached = run.run("transfer", out=str(tmp_path / "cached"), **options)
    printed = capsys.readouterr().out
    # 100 training and 71 validation images
    assert "features: 171 images through the frozen backbone once" in printed
    monkeypatch.setattr(transfer, "FEATURE_CACHE_BYTES", 0)
    direct = run.run("transfer", out=str(tmp_path / "direct"), **options)
    assert "not cached, the backbone runs every step" in capsys.readouterr().out
    for a, b in zip(_head_weights(cached), _head_weights(direct)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-4 * np.max(np.abs(b)))
    start = [np.asarray(w) for w in keras.models.load_model(source)
             .get_layer("conv2").weights]
    for a, b in zip(start, cached.model.get_layer("backbone")
                    .get_layer("conv2").weights):
        np.testing.assert_array_equal(a, np.asarray(b))  # frozen
    assert cached.test_accuracy == pytest.approx(direct.test_accuracy, abs=0.02)
