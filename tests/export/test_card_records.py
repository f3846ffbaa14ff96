"""The records beside a model (`model_card.json`, `config.json`) are read
with bounds and checked: one that is not kzoo's is one error line naming
the file, for `kzoo predict` and `kzoo export` (issue 25, item 11)."""

import json

import pytest
from PIL import Image

from kzoo.errors import KzooError
from kzoo.export import card
from tests.run.helpers import kzoo, one_error_line, saved_lenet

RECORDS = {
    "a list": "[1, 2, 3]",
    "not JSON": '{"class_names": ["a", "b"',
    "names not strings": '{"class_names": [1, 2, 3]}',
    "names a number": '{"class_names": 5}',
    "deep": "[" * 100_000 + "]" * 100_000,
    "too large": '{"class_names": ["' + "a" * (4 << 20) + '"]}',
}


@pytest.mark.parametrize("name", ["config.json", card.CARD_FILE])
@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_a_record_that_is_not_kzoos_is_refused_naming_it(kind, name, tmp_path):
    path = tmp_path / name
    path.write_text(RECORDS[kind])
    with pytest.raises(KzooError) as refusal:
        card.recorded_class_names(str(tmp_path))
    text = str(refusal.value)
    assert str(path) in text and "\n" not in text


def test_recorded_names_are_read_as_before(tmp_path):
    assert card.recorded_class_names(str(tmp_path)) is None
    (tmp_path / "config.json").write_text(json.dumps({"class_names": ["a", "b"]}))
    assert card.recorded_class_names(str(tmp_path)) == ["a", "b"]
    (tmp_path / card.CARD_FILE).write_text(json.dumps(
        {"class_names": {"old": ["0", "1"], "new": ["2"]}}))
    assert card.recorded_class_names(str(tmp_path)) == {"old": ["0", "1"],
                                                        "new": ["2"]}
    (tmp_path / card.CARD_FILE).write_text(json.dumps({"class_names": []}))
    assert card.recorded_class_names(str(tmp_path)) == ["a", "b"]


@pytest.fixture(scope="module")
def model_and_images(tmp_path_factory):
    root = tmp_path_factory.mktemp("model")
    (root / "run").mkdir()
    saved_lenet(root / "run" / "model.keras", num_classes=3)
    images = root / "images"
    images.mkdir()
    Image.new("L", (8, 8)).save(images / "a.png")
    return root / "run", images


@pytest.mark.parametrize("record", [card.CARD_FILE, "config.json"])
def test_predict_and_export_name_a_malformed_record(record, model_and_images,
                                                    tmp_path, capsys):
    run, images = model_and_images
    path = run / record
    path.write_text("[1, 2, 3]" if record == "config.json" else '{"formats": ')
    try:
        code, _, err = kzoo(capsys, "predict", "--model", run / "model.keras",
                            "--data", images, "--out", tmp_path / "p.csv")
        assert code == 2
        assert str(path) in one_error_line(err)
        code, _, err = kzoo(capsys, "export", "--model", run / "model.keras",
                            "--format", "keras", "--out", tmp_path / "e")
        assert code == 2
        assert str(path) in one_error_line(err)
    finally:
        path.unlink()


def test_writing_a_card_over_a_malformed_one_replaces_it(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(2)], name="tiny")
    (tmp_path / card.CARD_FILE).write_text('["not", "a", "card"]')
    path = card.write_card(model, str(tmp_path), ["a", "b"],
                           {"keras": str(tmp_path / "model.keras")})
    written = card.read_card(str(tmp_path))
    assert path == str(tmp_path / card.CARD_FILE)
    assert written["class_names"] == ["a", "b"] and list(written["formats"]) == [
        "keras"]
