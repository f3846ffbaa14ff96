"""`kzoo evaluate`: an export scored through its serving signature."""

import json
import os
import shutil
import stat

import pytest

from kzoo import run
from kzoo.testing import make_image_folder
from tests.run.helpers import FAST, SMOKE, kzoo, one_error_line
from tests.user_files import fake_read_only_file_system, read_in_thread


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """`(data folder, --out)`: two runs on a folder of 2 classes whose test
    split has 6 images each and a broken file, so --out holds versions 1, 2."""
    tmp = tmp_path_factory.mktemp("evaluate")
    root = make_image_folder(str(tmp / "data"), classes=("a", "b"), per_class=6,
                             size=16, splits=("train", "test"))
    (tmp / "data" / "test" / "a" / "broken.png").write_bytes(b"not a png")
    out = tmp / "run"
    for _ in range(2):
        run.run("train", data=root, epochs=1, input_size=16, out=str(out), **FAST)
    return root, out


@pytest.mark.large
def test_evaluate_reports_skipped_files_and_finds_the_latest_version(
        exported, tmp_path, capsys):
    root, out = exported
    report = tmp_path / "eval.json"
    code, text, err = kzoo(capsys, "evaluate", "--model", out, "--data", root,
                           "--out", report)
    assert code == 0, err
    assert f"scoring the latest version: {out / '2'}" in text
    assert "files the data scan skipped: 1" in text
    assert "broken.png: cannot be read or decoded" in text
    with open(report) as f:
        scored = json.load(f)
    assert [os.path.basename(p) for p in scored["skipped_files"]] == ["broken.png"]
    assert scored["num_examples"] == 12  # the broken file is never scored
    # The version folder itself is scored as given, to the same numbers.
    again = run.run("evaluate", model=str(out / "2"), data=root)
    assert again.saved_model == str(out / "2")
    assert again.test_accuracy == scored["test_accuracy"] == scored["accuracy"]
    code, _, err = kzoo(capsys, "evaluate", "--model", tmp_path, "--data", root)
    assert code == 2
    assert "No SavedModel at" in one_error_line(err)


@pytest.mark.large
def test_evaluate_smoke_scores_two_batches(exported):
    root, out = exported
    result = run.run("evaluate", model=str(out), data=root, batch_size=4,
                     smoke=True)
    assert result.metrics["num_examples"] == 8


@pytest.mark.large
def test_evaluate_refuses_a_task_or_classes_the_export_does_not_have(
        exported, tmp_path, capsys):
    root, out = exported
    code, _, err = kzoo(capsys, "evaluate", "--model", out, "--data", root,
                        "--task", "new")
    assert code == 2
    assert ("The model has no output 'new_classes'. It has one task: leave out "
            "--task.") in one_error_line(err)
    other = make_image_folder(str(tmp_path / "other"), classes=("x", "y"),
                              per_class=2, size=16, splits=("train", "test"))
    code, _, err = kzoo(capsys, "evaluate", "--model", out, "--data", other)
    assert code == 2
    line = one_error_line(err)
    assert "The model predicts class 'a'" in line or (
        "The model predicts class 'b'" in line)
    assert "data classes: ['x', 'y']" in line


TWO_BATCHES = {"smoke": True, "batch_size": 4}  # 8 images


@pytest.mark.large
def test_evaluate_out_a_pipe_or_a_user_s_file(exported, tmp_path):
    root, out = exported
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    join = read_in_thread(fifo)
    try:
        run.run("evaluate", model=str(out), data=root, out=str(fifo), **TWO_BATCHES)
    finally:
        got = join()
    assert json.loads(got)["num_examples"] == 8
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # a device: as a pipe
    mine = tmp_path / "mine.json"
    mine.write_text("{}")
    os.chmod(mine, 0o600)
    run.run("evaluate", model=str(out), data=root, out=str(mine), **TWO_BATCHES)
    with open(mine) as f:
        assert json.load(f)["num_examples"] == 8
    assert stat.S_IMODE(os.stat(mine).st_mode) == 0o600


@pytest.mark.large
def test_evaluate_refuses_an_out_it_cannot_write_before_scoring(
        exported, tmp_path, capsys, monkeypatch):
    root, out = exported
    (tmp_path / "afile").write_text("")
    code, printed, err = kzoo(capsys, "evaluate", "--model", out, "--data", root,
                              "--out", tmp_path / "afile" / "e.json")
    assert code == 2 and printed == ""
    assert one_error_line(err) == (
        f"error: The folder of --out must exist: {tmp_path / 'afile'} is not a "
        f"folder. Received: --out {tmp_path / 'afile' / 'e.json'}")
    # A read-only folder (as root every permission check passes: the
    # system's answers on a read-only mount are faked).
    fake_read_only_file_system(monkeypatch)
    code, printed, err = kzoo(capsys, "evaluate", "--model", out, "--data", root,
                              "--out", tmp_path / "e.json")
    assert code == 2 and printed == ""
    assert "is on a read-only file system" in one_error_line(err)


@pytest.mark.large
def test_evaluate_without_data_scores_the_data_the_run_recorded(
        exported, capsys):
    root, out = exported
    code, text, err = kzoo(capsys, "evaluate", "--model", out)
    assert code == 0, err
    record = out / "2" / "assets.extra" / "config.json"  # the version's own
    assert (f"data: {root!r} (recorded by the run in {record}; --data "
            "overrides)") in text
    assert f"on 12 images of '{os.path.basename(root)}'" in text
    given = run.run("evaluate", model=str(out), data=root)
    assert f"test accuracy {given.test_accuracy:.4f} on 12 images" in text


@pytest.mark.large
def test_evaluate_without_data_keeps_the_classes_the_run_recorded(tmp_path,
                                                                  capsys):
    out = tmp_path / "three"
    run.run("train", data="digits", classes=["3", "5", "8"], out=str(out),
            **dict(SMOKE, export=["savedmodel"]))
    # The run folder's config.json, where the version holds no copy.
    version = out / "smoke" / "1"
    os.remove(version / "assets.extra" / "config.json")
    code, text, err = kzoo(capsys, "evaluate", "--model", out / "smoke")
    assert code == 0, err
    assert (f"data: 'digits' (recorded by the run in {out / 'smoke'}"
            f"{os.sep}config.json; --data overrides)") in text
    assert "on 108 images of 'digits'" in text  # the test split of 3, 5, 8
    assert [line.split(":")[0].strip() for line in text.splitlines()
            if line.startswith("  ")] == ["3", "5", "8"]


def _lone_copy(exported, tmp_path):
    """`tmp_path/lone` holding a copy of the export's version 1 alone (no
    run folder around it)."""
    _, out = exported
    lone = tmp_path / "lone"
    shutil.copytree(out / "1", lone / "1")
    return lone


@pytest.mark.large
def test_evaluate_says_when_it_scores_the_default_data(exported, tmp_path,
                                                       capsys):
    lone = _lone_copy(exported, tmp_path)
    os.remove(lone / "1" / "assets.extra" / "config.json")
    (lone / "config.json").write_text("not json: a file that is not kzoo's")
    code, text, err = kzoo(capsys, "evaluate", "--model", lone / "1")
    assert text.splitlines()[0] == (
        f"data: 'digits' (the default: no kzoo run's config.json next to "
        f"{lone / '1'} records its data; --data sets it)")
    assert code == 2 and "The model predicts class" in one_error_line(err)


@pytest.mark.large
def test_evaluate_names_the_record_whose_data_it_cannot_use(exported, tmp_path,
                                                            capsys):
    lone = _lone_copy(exported, tmp_path)
    record = lone / "1" / "assets.extra" / "config.json"
    recorded = json.loads(record.read_text())
    record.write_text(json.dumps({**recorded, "data": str(tmp_path / "gone")}))
    code, _, err = kzoo(capsys, "evaluate", "--model", lone / "1")
    assert code == 2
    line = one_error_line(err)
    assert f"'{tmp_path / 'gone'}'" in line
    assert line.endswith(f"(the data recorded in {record}; --data sets "
                         "another)")
    record.write_text(json.dumps({**recorded, "classes": {"a": 1}}))
    code, _, err = kzoo(capsys, "evaluate", "--model", lone / "1")
    assert code == 2
    assert one_error_line(err).startswith(f"error: {record}: classes: ")
