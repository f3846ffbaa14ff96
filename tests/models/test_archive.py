"""A user's `.keras` file is checked before Keras reads it: declared member
sizes, compression ratio and member count are bounded, and whatever is
refused is one line naming the file (issue 25, item 10)."""

import json
import os
import zipfile

import pytest
from PIL import Image

from kzoo.errors import KzooError
from kzoo.models import archive, create_model
from kzoo.training import load_model_source
from tests.run.helpers import kzoo, one_error_line, saved_lenet

# The documented limits (kzoo.models.archive; test_the_limits_are_documented).
CONFIG_LIMIT = 32 << 20
MAX_MEMBERS = 1_000
MAX_RATIO = 100


@pytest.fixture(scope="module")
def lenet(tmp_path_factory):
    """A LeNet-5 `.keras` (3 classes, 32x32x1) and its members."""
    path = saved_lenet(tmp_path_factory.mktemp("lenet") / "model.keras", 3)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    return path, members


def rezipped(path, members, compress=(), extra=()):
    """`members` (`{name: bytes}`) as a zip at `path`; those named in
    `compress` DEFLATEd; `extra` `(name, bytes)` pairs added."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in [*members.items(), *extra]:
            kind = zipfile.ZIP_DEFLATED if name in compress else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=kind, compresslevel=9)
    return str(path)


def refused(path):
    with pytest.raises(KzooError) as refusal:
        load_model_source(path)
    line = str(refusal.value)
    assert "\n" not in line and path in line
    return line


def test_a_config_json_over_its_limit_is_refused_unread(lenet, tmp_path):
    _, members = lenet
    # 40 MiB of spaces, deflated to about 40 kB: Keras would read them all.
    bomb = b" " * (40 << 20) + members["config.json"]
    path = rezipped(tmp_path / "bomb.keras", {**members, "config.json": bomb},
                    compress={"config.json"})
    assert os.path.getsize(path) < 1 << 20
    assert (f"its config.json declares {len(bomb):,} bytes (at most "
            f"{CONFIG_LIMIT:,})") in refused(path)


def test_a_member_that_expands_too_far_is_refused(lenet, tmp_path):
    _, members = lenet
    weights = members["model.weights.h5"] + b"\0" * (64 << 20)
    path = rezipped(tmp_path / "zeros.keras", {**members,
                                               "model.weights.h5": weights},
                    compress={"model.weights.h5"})
    line = refused(path)
    assert "its model.weights.h5 declares" in line
    assert f"a compression ratio over {MAX_RATIO}" in line


def test_an_archive_of_too_many_members_is_refused(lenet, tmp_path):
    _, members = lenet
    extra = [(f"assets/{i}.txt", b"") for i in range(MAX_MEMBERS)]
    path = rezipped(tmp_path / "many.keras", members, extra=extra)
    assert f"lists {MAX_MEMBERS + 3:,} members" in refused(path)


def test_a_file_that_is_no_zip_or_a_broken_model_names_itself(lenet, tmp_path):
    _, members = lenet
    path = tmp_path / "text.keras"
    path.write_text("not a zip")
    assert "not a zip archive" in refused(str(path))
    deep = "[" * 100_000 + "]" * 100_000
    path = rezipped(tmp_path / "deep.keras", {**members,
                                              "config.json": deep.encode()})
    assert "Cannot load the Keras model" in refused(path)
    config = json.loads(members["config.json"])
    config["class_name"] = 5
    path = rezipped(tmp_path / "odd.keras", {**members, "config.json":
                                             json.dumps(config).encode()})
    assert "Cannot load the Keras model" in refused(path)


def test_a_checked_model_loads_as_before(lenet, tmp_path):
    path, members = lenet
    assert load_model_source(path).output_shape == (None, 3)
    again = rezipped(tmp_path / "deflated.keras", members,
                     compress=set(members))  # a re-zipped model still loads
    assert load_model_source(again).count_params() == load_model_source(
        path).count_params()


def test_every_way_kzoo_loads_a_users_keras_file_checks_it(lenet, tmp_path,
                                                           capsys):
    _, members = lenet
    bomb = {**members, "config.json": b" " * (40 << 20)}
    path = rezipped(tmp_path / "bomb.keras", bomb, compress={"config.json"})
    version = tmp_path / "run" / "1"
    os.makedirs(version / "assets.extra")
    rezipped(version / "assets.extra" / "model.keras", bomb,
             compress={"config.json"})
    refused(str(version))  # a SavedModel version folder's Keras model
    with pytest.raises(KzooError, match="its config.json declares"):
        create_model("lenet5", num_classes=3, input_shape=(32, 32, 1),
                     weights=path)
    images = tmp_path / "images"
    images.mkdir()
    Image.new("L", (8, 8)).save(images / "a.png")
    for argv in (["predict", "--model", path, "--data", images],
                 ["export", "--model", path, "--out", tmp_path / "e"],
                 ["train", "--weights", path, "--smoke", "--out", tmp_path / "t"],
                 ["transfer", "--source", path, "--smoke", "--out",
                  tmp_path / "s"]):
        code, _, err = kzoo(capsys, *argv)
        assert code == 2, argv
        line = one_error_line(err)
        assert f"Refusing the Keras model file {path}: its config.json" in line
    assert not any((tmp_path / d).exists() for d in ("e", "t", "s"))


def test_the_limits_are_documented():
    assert archive.KERAS_MEMBER_MAX_BYTES["config.json"] == CONFIG_LIMIT
    assert archive.KERAS_MAX_MEMBERS == MAX_MEMBERS
    assert archive.KERAS_MAX_RATIO == MAX_RATIO
