"""`--export` on a training command and `kzoo export` on a finished run."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from kzoo import run
from kzoo.data import load_data
from tests.run.helpers import SMOKE, kzoo, one_error_line, saved_lenet, smoke_dir


def test_a_run_writes_the_formats_export_names(tmp_path):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("tf2onnx")
    result = run.run("train", export="savedmodel,litert,onnx",
                     out=str(tmp_path / "r"), **SMOKE)
    out = smoke_dir(str(tmp_path / "r"))
    files = set(os.listdir(out))
    assert {"1", "model.tflite", "model.onnx", "model_card.json"} <= files
    assert "model.keras" not in files  # not asked for
    card = json.load(open(os.path.join(out, "model_card.json")))
    assert set(card["formats"]) == {"savedmodel", "litert", "onnx"}
    assert card["formats"]["litert"]["input"]["shape"] == [None, 32, 32, 1]
    assert card["class_names"] == [str(i) for i in range(10)]
    # the card travels inside the version folder, with config and metrics
    assert os.path.isfile(os.path.join(out, "1", "assets.extra", "model_card.json"))
    # the LiteRT file predicts the SavedModel's classes on the test images
    from ai_edge_litert.interpreter import Interpreter

    data = load_data("digits", image_size=(32, 32))
    images = np.stack([x for x, _ in data.test.take(32).as_numpy_iterator()])
    tensors = tf.saved_model.load(result.saved_model).signatures["serving_tensors"]
    want = tensors(images=tf.constant(images, tf.float32))["class_ids"].numpy()
    runner = Interpreter(os.path.join(out, "model.tflite")).get_signature_runner()
    got = runner(images=images.astype("float32"))["probabilities"].argmax(-1)
    np.testing.assert_array_equal(got, want)


def test_export_writes_other_formats_of_a_finished_run(tmp_path, capsys):
    pytest.importorskip("tf2onnx")
    run.run("train", out=str(tmp_path / "r"), **SMOKE)
    out = smoke_dir(str(tmp_path / "r"))
    code, printed, err = kzoo(capsys, "export", "--model", out, "--format", "onnx")
    assert code == 0, err
    assert os.path.isfile(os.path.join(out, "model.onnx"))
    assert f"onnx       {os.path.join(out, 'model.onnx')} (" in printed
    card = json.load(open(os.path.join(out, "model_card.json")))
    # the run's own formats stay on the card; onnx joins them
    assert set(card["formats"]) == {"savedmodel", "keras", "onnx"}
    assert card["class_names"] == [str(i) for i in range(10)]


def test_export_from_a_version_folder_to_a_new_savedmodel(tmp_path, capsys):
    run.run("train", out=str(tmp_path / "r"), classes="3,5,8", **SMOKE)
    version = os.path.join(smoke_dir(str(tmp_path / "r")), "1")
    target = str(tmp_path / "serving")
    code, _, err = kzoo(capsys, "export", "--model", version, "--format",
                        "savedmodel", "--out", target)
    assert code == 0, err
    images = tf.random.stateless_uniform([4, 32, 32, 1], (0, 1), maxval=255.0)
    before = tf.saved_model.load(version).signatures["serving_tensors"]
    after = tf.saved_model.load(os.path.join(target, "1")).signatures[
        "serving_tensors"]
    # class names come from the run's recorded config
    assert [c.decode() for c in after(images=images)["classes"].numpy()] == [
        c.decode() for c in before(images=images)["classes"].numpy()]
    assert set(after(images=images)["classes"].numpy()) <= {b"3", b"5", b"8"}


def test_a_bare_keras_file_gets_numbered_or_given_class_names(tmp_path, capsys):
    path = saved_lenet(tmp_path / "m.keras", num_classes=3)
    code, printed, err = kzoo(capsys, "export", "--model", path, "--format",
                              "savedmodel")
    assert code == 0, err
    assert "using 0..2 (--class-names sets them)" in printed
    code, _, err = kzoo(capsys, "export", "--model", path, "--format", "keras",
                        "--class-names", "a,b")
    assert code != 0
    assert "Got 2 class names for a model output '' with 3 classes" in err


def test_export_refuses_what_is_not_a_model(tmp_path, capsys):
    code, _, err = kzoo(capsys, "export", "--model", str(tmp_path))
    assert code != 0
    assert "Expected a kzoo run folder (holding model.keras)" in one_error_line(err)
    code, _, err = kzoo(capsys, "train", "--export", "savedmodel,tflite")
    assert code == 2
    assert "expected one or more of savedmodel, keras, litert, onnx" in err
