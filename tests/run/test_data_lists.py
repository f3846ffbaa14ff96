"""List options keep their items: a file name with a comma reaches
`kzoo predict` through repeated flags, one flag naming it exactly, or a
config file's list; recorded lists replay item by item (issue 25, item 16)."""

import csv
import json

import pytest
from PIL import Image

from kzoo.errors import KzooError
from kzoo.run import COMMANDS, configure
from kzoo.run.config import parse_argv, read_config, record_config
from tests.run.helpers import kzoo, one_error_line, saved_lenet


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """A LeNet-5 `.keras` and a folder of three images, one named `a,b.png`."""
    root = tmp_path_factory.mktemp("photos")
    model = saved_lenet(root / "model.keras", num_classes=3)
    folder = root / "new"
    folder.mkdir()
    for name in ("a,b.png", "a", "b.png"):
        Image.new("L", (12, 12), 200).save(folder / name, format="PNG")
    return model, folder


def predicted(path):
    with open(path, newline="") as f:
        return sorted(row["path"] for row in csv.DictReader(f))


@pytest.mark.large
def test_a_file_with_a_comma_via_repeated_data_flags(photos, tmp_path, capsys):
    model, folder = photos
    out = tmp_path / "p.csv"
    code, text, err = kzoo(capsys, "predict", "--model", model, "--data",
                           folder / "a,b.png", "--data", folder / "b.png",
                           "--out", out)
    assert code == 0, err
    assert "files: 2 under 2 --data items" in text
    assert predicted(out) == [str(folder / "a,b.png"), str(folder / "b.png")]


@pytest.mark.large
def test_one_data_flag_naming_an_existing_file_is_not_split(photos, tmp_path,
                                                             capsys):
    model, folder = photos
    out = tmp_path / "p.csv"
    code, _, err = kzoo(capsys, "predict", "--model", model, "--data",
                        folder / "a,b.png", "--out", out)
    assert code == 0, err
    assert predicted(out) == [str(folder / "a,b.png")]
    # Backwards compatible: no file of that exact name, so split on commas
    # (`a` and `b.png` exist).
    code, _, err = kzoo(capsys, "predict", "--model", model, "--data",
                        f"{folder}/a,{folder}/b.png", "--out", out)
    assert code == 0, err
    assert predicted(out) == [str(folder / "a"), str(folder / "b.png")]


def test_a_file_with_a_comma_via_a_config_list(photos, tmp_path, capsys):
    model, folder = photos
    out = tmp_path / "p.csv"
    path = tmp_path / "predict.json"
    path.write_text(json.dumps({"model": model, "data": [
        str(folder / "a,b.png"), str(folder / "a")], "out": str(out)}))
    code, _, err = kzoo(capsys, "predict", "--config", path)
    assert code == 0, err
    assert predicted(out) == [str(folder / "a"), str(folder / "a,b.png")]
    yaml_path = tmp_path / "predict.yaml"
    yaml_path.write_text(f"model: {model}\ndata:\n  - '{folder}/a,b.png'\n"
                         f"out: {out}\n")
    code, _, err = kzoo(capsys, "predict", "--config", yaml_path)
    assert code == 0, err
    assert predicted(out) == [str(folder / "a,b.png")]


def test_repeated_list_flags_keep_each_item_whole():
    config, _ = parse_argv(COMMANDS["train"], [
        "--classes", "cats, large", "--classes", "dogs"])
    assert config.classes == ["cats, large", "dogs"]
    config, _ = parse_argv(COMMANDS["train"], ["--classes", "cats,dogs"])
    assert config.classes == ["cats", "dogs"]  # one flag: comma-separated
    config, _ = parse_argv(COMMANDS["export"], [
        "--model", "m.keras", "--format", "onnx", "--format", "litert"])
    assert config.format == ["onnx", "litert"]
    with pytest.raises(KzooError, match="argument --format: expected one or "
                                        "more of .* each once"):
        parse_argv(COMMANDS["export"], ["--model", "m", "--format", "onnx",
                                        "--format", "onnx"])


def test_a_recorded_list_replays_item_by_item(tmp_path):
    config = configure("train", classes=["cats, large", "dogs"],
                       export=["keras"])
    path = tmp_path / "config.json"
    path.write_text(json.dumps(record_config(config.to_dict(), command="train",
                                             class_names=["x, y", "z"])))
    again, _ = parse_argv(COMMANDS["train"], ["--config", str(path)])
    assert again.classes == ["cats, large", "dogs"]
    assert again == config
    assert read_config(str(path))["classes"] == ["cats, large", "dogs"]


def test_list_items_and_single_values_are_checked(tmp_path, capsys):
    with pytest.raises(KzooError, match=r"classes: expected a list of names "
                                        r"\(text or numbers\), got an item \[1\]"):
        configure("train", classes=[[1], 2])
    with pytest.raises(KzooError, match="expected a single value for --data, "
                                        "not a list"):
        configure("train", data=["digits", "tfds:mnist"])
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"epochs": [1, 2]}))
    code, _, err = kzoo(capsys, "train", "--config", path, "--out", tmp_path / "r")
    assert code == 2
    assert f"{path}: epochs: expected a single value for --epochs, not a list" in (
        one_error_line(err))
