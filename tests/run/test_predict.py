"""`kzoo predict`: a trained model on a folder of new, unlabelled images,
with the predictions of the export's own serving signature."""

import csv
import errno
import json
import os
import shutil
import stat

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo import run
from kzoo.data.images import MAX_IMAGE_PIXELS, NOT_DECODABLE, OVER_PIXEL_LIMIT
from kzoo.export import export_saved_model, load_serving_signature
from kzoo.run import predict as predict_module
from kzoo.testing import make_image_folder, write_image
from kzoo.testing.images import class_pattern
from tests.data.helpers import png_declaring, write_bytes
from tests.run.helpers import (
    FAST,
    RAW_FLOAT,
    kzoo,
    one_error_line,
    run_kzoo,
    saved_lenet,
)
from tests.user_files import (
    character_device,
    fake_read_only_file_system,
    read_in_thread,
)

CLASSES = ["a", "b", "c"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`(run folder, new images)`: version 1 trained on 3 classes, version 2
    the same model biased to predict 'c' for everything."""
    tmp = tmp_path_factory.mktemp("predict")
    root = make_image_folder(str(tmp / "data"), classes=CLASSES, per_class=8,
                             size=16, splits=("train", "test"))
    out = tmp / "run"
    run.run("train", data=root, epochs=2, input_size=16, out=str(out), **FAST)
    model = keras.models.load_model(out / "model.keras")
    kernel, bias = model.get_layer("predictions").get_weights()
    model.get_layer("predictions").set_weights([kernel, bias + [0, 0, 100]])
    export_saved_model(model, str(out), CLASSES)
    return out, _new_images(tmp / "new")


def _new_images(root):
    """Nested PNG and JPEG files of several sizes, gray, RGB and RGBA."""
    rng = np.random.default_rng(1)
    (root / "sub" / "deep").mkdir(parents=True)
    shapes = {"top.png": (16, 3), "sub/gray.png": (24, 1), "sub/alpha.png": (12, 4),
              "sub/deep/photo.jpg": (40, 3), "sub/deep/small.jpeg": (9, 1),
              "sub/deep/z.png": (20, 3)}
    for i, (name, (size, channels)) in enumerate(shapes.items()):
        pixels = class_pattern(i % 3, size, rng, channels=max(channels, 1))
        write_image(root / name, pixels[:, : size - i])
    return root


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _served(version_dir, paths):
    serve = load_serving_signature(str(version_dir))
    encoded = tf.constant([_read_bytes(p) for p in paths])
    return {k: v.numpy() for k, v in serve(images=encoded).items()}


@pytest.mark.large
def test_top1_is_what_serving_default_returns_for_every_file(trained, tmp_path):
    out, new = trained
    result = run.run("predict", model=str(out / "1"), data=str(new),
                     out=str(tmp_path / "p.csv"))
    rows = _rows(tmp_path / "p.csv")
    assert len(rows) == 6 and all(r["error"] == "" for r in rows)
    served = _served(out / "1", [r["path"] for r in rows])
    assert [r["class_1"] for r in rows] == [c.decode() for c in served["classes"]]
    np.testing.assert_allclose([float(r["probability_1"]) for r in rows],
                               served["probabilities"].max(axis=1), rtol=1e-6)
    assert result.saved_model == str(out / "1")
    assert result.metrics["num_predicted"] == 6
    assert result.metrics["counts"] == {
        c: sum(r["class_1"] == c for r in rows) for c in CLASSES}


def test_a_run_folder_is_its_latest_version_and_keras_equals_saved_model(
        trained, tmp_path):
    out, new = trained
    latest = run.run("predict", model=str(out), data=str(new),
                     out=str(tmp_path / "latest.csv"))
    assert latest.saved_model == str(out / "2")
    assert latest.metrics["counts"] == {"a": 0, "b": 0, "c": 6}
    run.run("predict", model=str(out / "1"), data=str(new),
            out=str(tmp_path / "saved.csv"), top_k=3)
    run.run("predict", model=str(out / "model.keras"), data=str(new),
            out=str(tmp_path / "keras.csv"), top_k=3)
    assert _rows(tmp_path / "keras.csv") == _rows(tmp_path / "saved.csv")
    # A run folder without a SavedModel version predicts with its model.keras.
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("model.keras", "config.json"):
        shutil.copy(out / name, bare / name)
    result = run.run("predict", model=str(bare), data=str(new),
                     out=str(tmp_path / "bare.csv"), top_k=3)
    assert result.saved_model == str(bare / "model.keras")
    assert _rows(tmp_path / "bare.csv") == _rows(tmp_path / "saved.csv")


def test_top_k_globs_file_lists_and_json(trained, tmp_path):
    out, new = trained
    data = f"{new}/**/*.png,{new}/sub/deep/photo.jpg"
    run.run("predict", model=str(out / "1"), data=data, top_k=3,
            out=str(tmp_path / "p.csv"))
    rows = _rows(tmp_path / "p.csv")
    assert [os.path.relpath(r["path"], new) for r in rows] == [
        "sub/alpha.png", "sub/deep/z.png", "sub/gray.png", "top.png",
        "sub/deep/photo.jpg"]  # a glob's matches sorted, items in order given
    for row in rows:
        probs = [float(row[f"probability_{j}"]) for j in (1, 2, 3)]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
        assert sorted(row[f"class_{j}"] for j in (1, 2, 3)) == CLASSES
    run.run("predict", model=str(out / "1"), data=data, top_k=3,
            format="json", out=str(tmp_path / "p.json"))
    records = _read_json(tmp_path / "p.json")
    assert [list(r) for r in records] == [list(rows[0])] * len(rows)
    assert [{k: "" if v is None else str(v) for k, v in r.items()}
            for r in records] == rows


def test_bad_files_are_skipped_with_reasons_and_good_files_predicted(
        trained, tmp_path):
    out, new = trained
    folder = tmp_path / "mixed"
    shutil.copytree(new, folder)
    write_bytes(folder / "corrupt.png", b"\x89PNG\r\n\x1a\nnot an image")
    write_bytes(folder / "sub" / "bomb.png", png_declaring(23000, 23000))
    result = run.run("predict", model=str(out / "1"), data=str(folder),
                     out=str(tmp_path / "p.csv"), batch_size=2)
    errors = {os.path.relpath(r["path"], folder): r["error"]
              for r in _rows(tmp_path / "p.csv") if r["error"]}
    assert errors == {
        "corrupt.png": NOT_DECODABLE,
        "sub/bomb.png": OVER_PIXEL_LIMIT.format(23000, 23000, MAX_IMAGE_PIXELS)}
    assert result.metrics["num_predicted"] == 6
    assert result.metrics["num_skipped"] == 2
    assert [os.path.basename(s["path"]) for s in result.metrics["skipped"]] == [
        "corrupt.png", "bomb.png"]


# In the default tier though a child process: the one default-tier test of
# `python -m kzoo` (kzoo/__main__.py, cli.entry).
def test_a_pipe_and_a_device_are_skipped_without_blocking(trained, tmp_path):
    # In a child with a deadline: reading the pipe would block forever.
    out, new = trained
    folder = tmp_path / "hostile"
    shutil.copytree(new, folder)
    os.mkfifo(folder / "pipe.png")
    os.symlink("/dev/zero", folder / "sub" / "zero.jpg")
    done = run_kzoo("predict", "--model", out / "1", "--data", folder, "--out",
                    tmp_path / "p.csv", timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "predicted 6 images; skipped 2 files:" in done.stdout
    errors = {os.path.relpath(r["path"], folder): r["error"]
              for r in _rows(tmp_path / "p.csv") if r["error"]}
    assert errors == {"pipe.png": "not a regular file (a named pipe)",
                      "sub/zero.jpg": "not a regular file (a character device)"}


def test_the_command_prints_a_summary(trained, tmp_path, capsys, monkeypatch):
    out, new = trained
    write_bytes(new.parent / "broken.jpg", b"\xff\xd8\xffnot a jpeg")
    monkeypatch.chdir(tmp_path)
    code, text, err = kzoo(capsys, "predict", "--model", out, "--data",
                           f"{new},{new.parent / 'broken.jpg'}", "--batch-size", "1")
    assert code == 0, err
    lines = text.splitlines()
    assert lines[0] == f"model: {out / '2'} (SavedModel, 3 classes, input 16x16x3)"
    assert lines[1] == "files: 7 under 2 --data items"
    assert sum(line.startswith("predict: ") for line in lines) <= 10
    assert lines[-4:] == [
        "predicted 6 images; skipped 1 file:",
        f"  skipped: {new.parent / 'broken.jpg'}: {NOT_DECODABLE}",
        "top-1 counts: a 0, b 0, c 6",
        "wrote predictions.csv"]
    assert not RAW_FLOAT.search(text)
    assert len(_rows(tmp_path / "predictions.csv")) == 7
    code, text, _ = kzoo(capsys, "predict", "--model", out, "--data", new,
                         "--format", "json", "--smoke", "--batch-size", "2")
    assert code == 0 and "smoke: 2 batches only" in text
    assert len(_read_json(tmp_path / "predictions.json")) == 4


def test_class_names_default_to_numbers_with_a_note(trained, tmp_path, capsys):
    _, new = trained
    lenet = saved_lenet(tmp_path / "lenet.keras", num_classes=10)
    code, text, err = kzoo(capsys, "predict", "--model", lenet, "--data", new,
                           "--out", tmp_path / "p.csv", "--top-k", "10")
    assert code == 0, err
    assert "note: no class names found" in text
    row = _rows(tmp_path / "p.csv")[0]
    assert sorted(row[f"class_{j}"] for j in range(1, 11)) == sorted(
        str(i) for i in range(10))


def test_refusals_come_before_anything_is_read_or_written(
        trained, tmp_path, capsys):
    out, new = trained
    csv_path = tmp_path / "p.csv"
    cases = [
        (["--model", out, "--data", f"{new},{tmp_path}/nothing*"],
         "No file or folder matches a data item"),
        (["--model", out, "--data", new, "--top-k", "4"],
         "--top-k must be at most the model's 3 classes. Received: top_k=4"),
        (["--model", tmp_path / "missing", "--data", new],
         "nothing exists there. Received: model="),
        (["--model", out, "--data", new, "--out", tmp_path / "no" / "p.csv"],
         "The folder of --out must exist"),
    ]
    for argv, expected in cases:
        code, _, err = kzoo(capsys, "predict", "--out", csv_path, *argv)
        assert code == 2 and expected in one_error_line(err)
        assert not csv_path.exists()


def test_a_multi_task_model_is_refused(trained, tmp_path, capsys):
    _, new = trained
    inputs = keras.Input((16, 16, 3))
    flat = keras.layers.Flatten()(inputs)
    model = keras.Model(inputs, {"old": keras.layers.Dense(2)(flat),
                                 "new": keras.layers.Dense(3)(flat)})
    model.save(tmp_path / "two.keras")
    code, _, err = kzoo(capsys, "predict", "--model", tmp_path / "two.keras",
                        "--data", new)
    assert code == 2
    assert "one output (one task); this one has outputs ['new', 'old']" in (
        one_error_line(err))


def test_out_a_pipe_a_device_or_a_user_s_file_is_written_as_they_expect(
        trained, tmp_path):
    out, new = trained
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    join = read_in_thread(fifo)
    try:
        run.run("predict", model=str(out / "1"), data=str(new), out=str(fifo))
    finally:
        got = join().decode()
    assert got.startswith("path,class_1,probability_1,error\r\n")
    assert len(got.splitlines()) == 7
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # written to, not replaced
    null = character_device(tmp_path)  # /dev/null (as root, a node of it)
    result = run.run("predict", model=str(out / "1"), data=str(new), out=null)
    assert result.metrics["num_predicted"] == 6
    assert stat.S_ISCHR(os.lstat(null).st_mode)
    mine = tmp_path / "mine.csv"
    mine.write_text("a user's notes\n")
    os.chmod(mine, 0o600)
    run.run("predict", model=str(out / "1"), data=str(new), out=str(mine))
    assert len(_rows(mine)) == 6
    assert stat.S_IMODE(os.stat(mine).st_mode) == 0o600
    assert set(os.listdir(tmp_path)) == {"mine.csv", "pipe.csv"} | (
        {"null"} if null != "/dev/null" else set())


@pytest.mark.large
def test_an_out_among_the_inputs_is_refused_before_anything_is_written(
        trained, tmp_path, capsys):
    out, new = trained
    folder = tmp_path / "photos"
    shutil.copytree(new, folder)
    image = (folder / "top.png").read_bytes()
    (tmp_path / "link.png").symlink_to(folder / "top.png")
    for target in (folder / "top.png", tmp_path / "link.png",
                   folder / "sub" / ".." / "top.png"):
        code, printed, err = kzoo(capsys, "predict", "--model", out, "--data",
                                  folder, "--out", target)
        assert code == 2 and printed == ""  # refused before the model loads
        assert one_error_line(err) == (
            f"error: --out is one of the input files ({folder / 'top.png'}): "
            "predict would replace it with its predictions. Expected an --out "
            "that is not under --data, or the predictions file of an earlier "
            f"run. Received: --out {target}")
        assert (folder / "top.png").read_bytes() == image
    # An earlier run's predictions inside the folder are not an input, even
    # named like an image; nor is an empty file (`> photos/p.csv`).
    for name, fmt, runs in (("p.json", "json", 2), ("good_3.png", "csv", 2),
                            ("empty.csv", "csv", 1)):
        if name == "empty.csv":
            (folder / name).write_bytes(b"")
        for _ in range(runs):
            code, printed, err = kzoo(capsys, "predict", "--model", out, "--data",
                                      folder, "--out", folder / name, "--format", fmt)
            assert code == 0, err
            assert "files: 6 under 1 --data item" in printed
            assert "skipped 0 files" in printed
        (folder / name).unlink()


def test_csv_cells_a_spreadsheet_would_run_get_a_quote(trained, tmp_path,
                                                       monkeypatch):
    out, new = trained
    names = ['=HYPERLINK("http:\\evil","x").png', "+1.png", "-2.png",
             "@SUM(A1).png", "\tTab.png", "\rReturn.png", "plain.png"]
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in names:
        shutil.copy(new / "top.png", folder / name)
    bare = tmp_path / "model"
    bare.mkdir()
    shutil.copy(out / "model.keras", bare / "model.keras")
    with open(bare / "config.json", "w") as f:
        json.dump({"class_names": ["=1+1", "-b", "c"]}, f)
    monkeypatch.chdir(folder)  # paths as the glob gives them: the bare names
    run.run("predict", model=str(bare), data="*.png", top_k=3,
            out=str(tmp_path / "p.csv"))
    rows = _rows(tmp_path / "p.csv")
    cells = {"'" + n if n != "plain.png" else n for n in names}
    assert {r["path"] for r in rows} == cells
    assert {r["class_1"] for r in rows} | {r["class_2"] for r in rows} | {
        r["class_3"] for r in rows} == {"'=1+1", "'-b", "c"}
    float(rows[0]["probability_1"])  # numbers stay numbers
    run.run("predict", model=str(bare), data="*.png", top_k=3, format="json",
            out=str(tmp_path / "p.json"))
    records = _read_json(tmp_path / "p.json")
    assert {r["path"] for r in records} == set(names)  # JSON stays raw
    assert {r["class_1"] for r in records} <= {"=1+1", "-b", "c"}


def test_a_full_disk_or_a_read_only_folder_is_one_error_line(
        trained, tmp_path, capsys, monkeypatch):
    out, new = trained
    full = character_device(tmp_path, "full")  # /dev/full: ENOSPC
    code, _, err = kzoo(capsys, "predict", "--model", out, "--data", new,
                        "--out", full)
    assert code == 2
    assert one_error_line(err) == (
        f"error: Cannot write {full}: No space left on device [ENOSPC]. Expected "
        f"a writable file system with free space. Received: --out {full}")
    # A disk that fills mid-file: the previous file stays, nothing partial.
    previous = tmp_path / "p.csv"
    previous.write_text("previous\n")
    real_writer = csv.writer

    class FillingWriter:
        def __init__(self, f):
            self.table, self.rows = real_writer(f), 0

        def writerow(self, row):
            self.rows += 1
            if self.rows > 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.table.writerow(row)

    monkeypatch.setattr(predict_module.csv, "writer", FillingWriter)
    code, _, err = kzoo(capsys, "predict", "--model", out, "--data", new,
                        "--out", previous)
    assert code == 2
    assert one_error_line(err) == (
        f"error: Cannot write {previous}: No space left on device [ENOSPC]; "
        "nothing partial was left. Expected a writable file system with free "
        f"space. Received: --out {previous}")
    assert previous.read_text() == "previous\n"
    assert set(os.listdir(tmp_path)) == {"p.csv"} | (
        {"full"} if full != "/dev/full" else set())
    monkeypatch.undo()
    # A read-only folder (root passes permission checks: the system's
    # answers on a read-only mount are faked) is refused before the model
    # loads.
    fake_read_only_file_system(monkeypatch)
    code, printed, err = kzoo(capsys, "predict", "--model", out, "--data", new,
                              "--out", tmp_path / "new.csv")
    assert code == 2 and printed == ""
    assert one_error_line(err) == (
        f"error: Cannot write --out {tmp_path / 'new.csv'}: its folder {tmp_path} "
        "is on a read-only file system. Expected a folder this user may write "
        f"to. Received: --out {tmp_path / 'new.csv'}")
