"""`kzoo select` end to end on generated folders: the CSV and the contact
sheet, determinism with a seed, the labelled images left out, a model's
uncertainty, and the errors (one line each, before anything is written)."""

import csv
import os

import pytest
from PIL import Image

from kzoo import run
from kzoo.models import create_model
from kzoo.testing.images import make_image_folder
from tests.run.helpers import kzoo, one_error_line


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """A folder of 36 images at two depths, no layout."""
    root = tmp_path_factory.mktemp("plain") / "photos"
    make_image_folder(str(root), classes=("a", "b", "c"), per_class=12, size=16,
                      splits=("x",))
    return str(root)


def test_select_writes_the_choice_and_its_contact_sheet(plain, tmp_path, capsys):
    out = tmp_path / "pick.csv"
    code, text, err = kzoo(capsys, "select", "--data", plain, "--budget", 5,
                           "--out", out)
    assert code == 0, err
    picked = rows(out)
    assert [r["rank"] for r in picked] == ["1", "2", "3", "4", "5"]
    assert {r["strategy"] for r in picked} == {"typiclust"}  # the default
    assert len({r["path"] for r in picked}) == 5
    assert all(os.path.isfile(r["path"]) and r["path"].startswith(plain)
               for r in picked)
    assert all(r["cluster"] != "" and float(r["score"]) > 0 for r in picked)
    with Image.open(tmp_path / "pick.png") as sheet:
        assert sheet.format == "PNG" and sheet.width > 100
    assert "36 images" in text and "typiclust, 5 of 36" in text


def test_the_same_seed_gives_the_same_choice(plain, tmp_path):
    picks = []
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        out = str(tmp_path / f"{name}.csv")
        run.run("select", data=plain, budget=6, out=out, seed=seed,
                strategy="random")
        picks.append([r["path"] for r in rows(out)])
    assert picks[0] == picks[1] != picks[2]


# Two selections on a data folder; the default tier selects from one in
# test_a_data_folder_with_nothing_labelled_yet.
@pytest.mark.large
def test_a_data_folder_picks_from_unlabeled_only(folder, tmp_path):
    out = str(tmp_path / "pick.csv")
    result = run.run("select", data=folder, budget=8, out=out)
    paths = [r["path"] for r in rows(out)]
    assert all(os.sep + "unlabeled" + os.sep in p for p in paths)
    # train/ counted as labelled: coreset's first pick is far from it
    far = run.run("select", data=folder, budget=1, out=out, strategy="coreset")
    assert far.report["scores"][0] > 0 and result.report["strategy"] == "typiclust"


def test_a_data_folder_with_nothing_labelled_yet(plain, tmp_path):
    """The start of the loop: DIR/unlabeled/ (and a fixed DIR/test/), no
    train/: the pool is unlabeled/, test/ is never a candidate."""
    import shutil

    root = tmp_path / "photos"
    shutil.copytree(plain, root / "unlabeled")
    make_image_folder(str(root / "test"), classes=("a", "b"), per_class=2,
                      size=16, splits=("x",))
    out = str(tmp_path / "pick.csv")
    result = run.run("select", data=str(root), budget=36, out=out,
                     strategy="random")
    assert len(result.report["paths"]) == 36
    assert all(os.sep + "unlabeled" + os.sep in p for p in result.report["paths"])


def test_margin_ranks_the_models_least_sure_images_first(folder, tmp_path):
    model = str(tmp_path / "m.keras")
    create_model("lenet5", num_classes=3, input_shape=(32, 32, 3)).save(model)
    out = str(tmp_path / "pick.csv")
    result = run.run("select", data=folder, budget=10, out=out, model=model)
    assert result.report["strategy"] == "margin"  # the default with a model
    scores = [float(r["score"]) for r in rows(out)]
    assert scores == sorted(scores)
    assert all(0 <= s <= 1 for s in scores)
    badge = run.run("select", data=folder, budget=4, out=out, model=model,
                    strategy="badge")
    assert len(set(badge.report["paths"])) == 4


@pytest.mark.large  # two commands end to end: a pretrain, then select on it
def test_an_embedding_of_a_pretrain_run(plain, tmp_path):
    encoder = run.run("pretrain", data=plain, out=str(tmp_path / "enc"),
                      smoke=True, batch_size=8, input_size=32,
                      jit_compile=False, steps_per_execution=1)
    out = str(tmp_path / "pick.csv")
    result = run.run("select", data=plain, budget=3, out=out,
                     embedding=encoder.out, strategy="probcover")
    assert len(rows(out)) == 3 and result.report["delta"] > 0


def error_of(capsys, *argv):
    code, _, err = kzoo(capsys, "select", *argv)
    assert code == 2
    return one_error_line(err)


def test_bad_input_is_one_line_and_writes_nothing(plain, folder, tmp_path, capsys):
    out = str(tmp_path / "pick.csv")
    base = ["--out", out]
    assert "larger than the pool: 36" in error_of(
        capsys, "--data", plain, "--budget", 37, *base)
    assert "--budget" in error_of(capsys, "--data", plain, "--budget", 0, *base)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "No images found" in error_of(capsys, "--data", empty, "--budget", 1,
                                         *base)
    assert "pass --model" in error_of(capsys, "--data", plain, "--budget", 2,
                                      "--strategy", "margin", *base)
    assert "nothing exists" in error_of(capsys, "--data", plain, "--budget", 2,
                                        "--embedding", tmp_path / "nope", *base)
    grey = tmp_path / "grey.keras"
    create_model("lenet5", num_classes=3, input_shape=(32, 32, 1)).save(grey)
    line = error_of(capsys, "--data", plain, "--budget", 2, "--embedding", grey,
                    *base)
    assert "(32, 32, 1)" in line and "RGB" in line
    assert "never --embedding" in error_of(
        capsys, "--data", plain, "--budget", 2, "--strategy", "margin", "--model",
        grey, "--embedding", "pixels", *base)
    assert "a .csv name" in error_of(capsys, "--data", plain, "--budget", 2,
                                     "--out", tmp_path / "p.png")
    assert "inside --data" in error_of(capsys, "--data", plain, "--budget", 2,
                                       "--out", os.path.join(plain, "x", "p.csv"))
    no_pool = make_image_folder(str(tmp_path / "labelled"), per_class=3)
    assert "no unlabelled images" in error_of(capsys, "--data", no_pool,
                                              "--budget", 1, *base)
    assert not os.path.exists(out)
    assert not os.path.exists(str(tmp_path / "pick.png"))


def test_an_imagenet_embedding_from_the_keras_cache(plain, tmp_path, monkeypatch,
                                                    capsys):
    from tests.models.helpers import offline_mobilenet_v3_small

    offline_mobilenet_v3_small(monkeypatch, tmp_path, 224)
    out = tmp_path / "pick.csv"
    code, text, err = kzoo(capsys, "select", "--data", plain, "--budget", 3,
                           "--embedding", "imagenet", "--out", out)
    assert code == 0, err
    assert "embedding: imagenet (576 values an image)" in text
    assert len(rows(out)) == 3
