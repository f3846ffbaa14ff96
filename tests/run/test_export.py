"""`--export` on a training command and `kzoo export` on a finished run."""

import errno
import json
import os
import socket
import subprocess
import sys
import uuid

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo import run
from kzoo.data import load_data
from tests.run.helpers import (
    SERVED,
    SMOKE,
    SMOKE_FLAGS,
    kzoo,
    one_error_line,
    saved_lenet,
    smoke_dir,
)
from tests.user_files import dead_pid, fake_read_only_file_system


@pytest.mark.large
def test_a_run_writes_the_formats_export_names(tmp_path):
    pytest.importorskip("ai_edge_litert")
    pytest.importorskip("tf2onnx")
    result = run.run("train", out=str(tmp_path / "r"),
                     **dict(SMOKE, export="savedmodel,litert,onnx"))
    out = smoke_dir(str(tmp_path / "r"))
    files = set(os.listdir(out))
    assert {"1", "model.tflite", "model.onnx", "model_card.json"} <= files
    assert "model.keras" not in files  # not asked for
    with open(os.path.join(out, "model_card.json")) as f:
        card = json.load(f)
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


@pytest.mark.large
def test_export_writes_other_formats_of_a_finished_run(tmp_path, capsys):
    pytest.importorskip("tf2onnx")
    run.run("train", out=str(tmp_path / "r"), **dict(SMOKE, export=SERVED))
    out = smoke_dir(str(tmp_path / "r"))
    code, printed, err = kzoo(capsys, "export", "--model", out, "--format", "onnx")
    assert code == 0, err
    assert os.path.isfile(os.path.join(out, "model.onnx"))
    assert f"onnx       {os.path.join(out, 'model.onnx')} (" in printed
    with open(os.path.join(out, "model_card.json")) as f:
        card = json.load(f)
    # the run's own formats stay on the card; onnx joins them
    assert set(card["formats"]) == {"savedmodel", "keras", "onnx"}
    assert card["class_names"] == [str(i) for i in range(10)]


@pytest.mark.large
def test_export_from_a_version_folder_to_a_new_savedmodel(tmp_path, capsys):
    run.run("train", out=str(tmp_path / "r"), classes="3,5,8",
            **dict(SMOKE, export=SERVED))
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


def test_export_refuses_an_out_it_cannot_write_before_loading(
        tmp_path, capsys, monkeypatch):
    path = saved_lenet(tmp_path / "m.keras", num_classes=3)
    (tmp_path / "afile").write_text("mine")
    code, printed, err = kzoo(capsys, "export", "--model", path, "--out",
                              tmp_path / "afile")
    assert code == 2 and printed == ""
    assert one_error_line(err) == (
        f"error: Cannot write --out {tmp_path / 'afile'}: it is a file, not a "
        "folder. Expected a folder (made if missing). Received: --out "
        f"{tmp_path / 'afile'}")
    assert (tmp_path / "afile").read_text() == "mine"
    # A read-only folder (as root every permission check passes: the
    # system's answers on a read-only mount are faked).
    fake_read_only_file_system(monkeypatch)
    code, printed, err = kzoo(capsys, "export", "--model", path, "--out",
                              tmp_path / "serving")
    assert code == 2 and printed == ""
    assert one_error_line(err) == (
        f"error: Cannot write --out {tmp_path / 'serving'}: {tmp_path} is on a "
        "read-only file system. Expected a folder this user may write to. "
        f"Received: --out {tmp_path / 'serving'}")


def test_a_full_disk_mid_export_is_one_error_line_and_leaves_nothing(
        tmp_path, capsys, monkeypatch):
    path = saved_lenet(tmp_path / "m.keras", num_classes=3)
    out = tmp_path / "serving"
    out.mkdir()
    enospc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def half_save(model, filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"PK half a zip")
        raise enospc

    monkeypatch.setattr(keras.Model, "save", half_save)
    code, _, err = kzoo(capsys, "export", "--model", path, "--format", "keras",
                        "--out", out)
    assert code == 2
    assert one_error_line(err) == (
        f"error: Cannot write {out / 'model.keras'}: No space left on device "
        "[ENOSPC]; nothing partial was left. Expected a writable file system "
        f"with free space. Received: path='{out / 'model.keras'}'")
    assert os.listdir(out) == []
    monkeypatch.undo()

    def half_archive(archive, folder, *args, **kwargs):
        with open(os.path.join(folder, "saved_model.pb"), "wb") as f:
            f.write(b"half")
        raise tf.errors.ResourceExhaustedError(  # as TensorFlow says it
            None, None, f"{folder}/variables/variables_temp; No space left on "
                        "device [Op:SaveV2]")

    # `keras.export.ExportArchive()` makes the backend's subclass
    archive_class = type(keras.export.ExportArchive())
    monkeypatch.setattr(archive_class, "write_out", half_archive)
    code, _, err = kzoo(capsys, "export", "--model", path, "--format",
                        "savedmodel", "--out", out)
    assert code == 2
    assert one_error_line(err) == (
        f"error: Cannot write a SavedModel version under {out}: No space left "
        "on device [ENOSPC]; nothing partial was left. Expected a writable file "
        f"system with free space. Received: path='{out}'")
    assert os.listdir(out) == []


def test_a_killed_export_s_temporary_file_is_removed_by_the_next(tmp_path, capsys):
    pytest.importorskip("ai_edge_litert")
    path = saved_lenet(tmp_path / "m.keras", num_classes=3)
    out = tmp_path / "serving"
    out.mkdir()
    host = socket.gethostname()

    def orphan(pid):  # named as `kzoo.outputs.atomic_path` names it
        name = f".model.tflite.{host}-{pid}-{uuid.uuid4().hex}.tmp.tflite"
        (out / name).write_bytes(b"half a flatbuffer")
        return name

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        dead, alive = orphan(dead_pid()), orphan(live.pid)
        code, _, err = kzoo(capsys, "export", "--model", path, "--format",
                            "litert", "--out", out)
        assert code == 0, err
        left = set(os.listdir(out))
    finally:
        live.kill()
        live.wait()
    assert dead not in left  # a dead process's: removed
    assert left == {"model.tflite", "model_card.json", alive}  # a live one's kept


INSTALL_ONNX = ("pip install 'tf2onnx>=1.17' 'onnxruntime>=1.20' (kzoo's 'onnx' "
                "extra; in a kzoo clone: pip install '.[onnx]')")


def without_tf2onnx(monkeypatch):
    """Importing tf2onnx fails, as where the 'onnx' extra is not installed."""
    monkeypatch.setitem(sys.modules, "tf2onnx", None)


def test_a_missing_package_of_one_format_writes_no_format(tmp_path, capsys,
                                                           monkeypatch):
    path = saved_lenet(tmp_path / "m.keras", num_classes=3)
    out = tmp_path / "serving"
    without_tf2onnx(monkeypatch)
    code, printed, err = kzoo(capsys, "export", "--model", path, "--format",
                              "litert,onnx", "--out", out)
    assert code == 2 and printed == ""
    line = one_error_line(err)
    assert line.startswith("error: --format onnx needs the 'tf2onnx' package, "
                           "which cannot be imported (")
    assert line.endswith(INSTALL_ONNX)
    assert not out.exists()  # no model.tflite, no card, no folder


def test_write_exports_checks_every_format_before_writing_any(tmp_path,
                                                              monkeypatch):
    from kzoo.errors import KzooError
    from kzoo.run.exporting import write_exports

    model = keras.models.load_model(saved_lenet(tmp_path / "m.keras", 3))
    out = tmp_path / "run"
    out.mkdir()
    without_tf2onnx(monkeypatch)
    with pytest.raises(KzooError, match="--export onnx needs the 'tf2onnx'"):
        write_exports(model, ["keras", "litert", "onnx"], str(out),
                      ["a", "b", "c"])
    assert os.listdir(out) == []


def test_a_training_run_refuses_a_missing_export_package_before_training(
        tmp_path, capsys, monkeypatch):
    out = tmp_path / "r"
    without_tf2onnx(monkeypatch)
    code, printed, err = kzoo(capsys, "train", *SMOKE_FLAGS, "--export", "savedmodel",
                              "--export", "litert", "--export", "onnx", "--out", out)
    assert code == 2 and printed == ""
    line = one_error_line(err)
    assert line.startswith("error: --export onnx needs the 'tf2onnx' package")
    assert line.endswith(INSTALL_ONNX)
    assert not out.exists()  # nothing trained, nothing written
