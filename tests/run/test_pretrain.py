"""`kzoo pretrain` end to end: the encoder it writes, a training run that
starts from it, a killed run that resumes to the same weights, and the
errors."""

import os

import keras
import numpy as np
import pytest

from kzoo import run
from kzoo.run import fitting
from kzoo.testing.images import make_image_folder
from kzoo.training import load_model_source
from tests.run.helpers import FAST, kzoo, one_error_line, read_json
from tests.training.helpers import max_difference

# 40 images in batches of 8: 5 steps a pass; 4 checks of 2 steps.
SHORT = dict(batch_size=8, steps=8, check_every=2, input_size=32, **FAST)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A plain folder of 40 images, two levels deep."""
    root = str(tmp_path_factory.mktemp("pool") / "photos")
    make_image_folder(root, classes=("a", "b"), per_class=20, size=16,
                      splits=("x",))
    return root


def test_pretrain_writes_an_encoder_that_a_training_run_starts_from(
        photos, tmp_path, capsys):
    out = str(tmp_path / "enc")
    result = run.run("pretrain", data=photos, out=out, **SHORT)
    encoder = load_model_source(os.path.join(out, "model.keras"))
    names = [layer.name for layer in encoder.layers]
    assert "predictions" not in names and "fc2" in names
    assert encoder.output.shape[1:] == (84,)
    recorded = read_json(out, "config.json")
    assert recorded["command"] == "pretrain" and recorded["feature_size"] == 84
    assert np.isfinite(read_json(out, "pretrain.json")["loss"])
    assert os.path.isfile(os.path.join(out, "training_log.csv"))
    assert not os.path.exists(os.path.join(out, "backup"))  # removed at the end
    trained = run.run("train", data="digits", channels=3, weights=out,
                      out=str(tmp_path / "train"), smoke=True, export=["keras"],
                      **FAST)
    assert "layers loaded" in capsys.readouterr().out
    del trained
    # The weights a training run starts from are the encoder's.
    keras.utils.set_random_seed(0)
    from kzoo.models import create_model, initial_weights

    model = create_model("lenet5", num_classes=10, input_shape=(32, 32, 3))
    initial_weights(model, os.path.join(result.out, "model.keras"))
    for name in ("conv1", "conv2", "fc1", "fc2"):
        assert max_difference(model.get_layer(name).get_weights(),
                              encoder.get_layer(name).get_weights()) == 0


@pytest.mark.large  # kill and resume: two runs of a pretrain
def test_a_killed_pretrain_resumes_to_the_same_encoder(photos, tmp_path,
                                                       monkeypatch):
    whole = run.run("pretrain", data=photos, out=str(tmp_path / "whole"), **SHORT)

    class Killed(Exception):
        pass

    class KillAfterTwoChecks(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise Killed

    real_logs = fitting.logs
    monkeypatch.setattr(fitting, "logs", lambda *a, **k: [
        *real_logs(*a, **k), KillAfterTwoChecks()])
    out = str(tmp_path / "killed")
    with pytest.raises(Killed):
        run.run("pretrain", data=photos, out=out, **SHORT)
    assert not os.path.exists(os.path.join(out, "model.keras"))
    monkeypatch.setattr(fitting, "logs", real_logs)
    resumed = run.run("pretrain", data=photos, out=out, **SHORT)
    assert max_difference(whole.model.get_weights(),
                          resumed.model.get_weights()) == 0.0


def test_pretrain_on_a_data_folder_reads_train_and_unlabeled(folder, tmp_path,
                                                             capsys):
    code, text, err = kzoo(capsys, "pretrain", "--data", folder, "--smoke",
                           "--out", tmp_path / "enc", "--batch-size", 8,
                           "--no-jit-compile", "--steps-per-execution", 1)
    assert code == 0, err
    assert "54 images (its train/ and unlabeled/ images, labels unread)" in text


def test_pretrain_errors_are_one_line(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = kzoo(capsys, "pretrain", "--data", empty, "--smoke",
                        "--out", tmp_path / "o")
    assert code == 2 and "No images found" in one_error_line(err)
    code, _, err = kzoo(capsys, "pretrain", "--temperature", "0", "--smoke",
                        "--out", tmp_path / "o")
    assert code == 2 and "--temperature" in one_error_line(err)
    assert not os.path.exists(tmp_path / "o")


def test_pretrain_starts_from_a_classifier_of_the_same_model(photos, tmp_path,
                                                             capsys):
    from kzoo.models import create_model

    source = str(tmp_path / "classifier.keras")
    create_model("lenet5", num_classes=5, input_shape=(32, 32, 3)).save(source)
    code, text, err = kzoo(capsys, "pretrain", "--data", photos, "--smoke",
                           "--weights", source, "--out", tmp_path / "enc",
                           "--batch-size", 8, "--no-jit-compile")
    assert code == 0, err
    assert "layers loaded (conv1 ... fc2)" in text
