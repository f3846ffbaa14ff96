"""`kzoo info`: a model's per-layer table, and the registry with --list."""

from kzoo import run
from kzoo.models import get_model_entry, list_models
from tests.run.helpers import kzoo, one_error_line


def test_info_prints_receptive_field_table(capsys):
    result = run.run("info", model="vgg16")
    text = capsys.readouterr().out
    row = next(line for line in text.splitlines() if line.startswith("block5_conv3"))
    assert " 196 " in row  # VGG-16's last conv sees 196 x 196 input pixels
    assert "138,357,544" in text
    assert result.report["model"] == "vgg16"
    assert result.model.count_params() == 138_357_544
    lenet = run.run("info", model="lenet5", input_size=28, num_classes=10)
    assert lenet.model.input_shape == (None, 28, 28, 1)
    assert lenet.model.output_shape == (None, 10)


def test_info_list_names_every_registered_model(capsys):
    code, out, err = kzoo(capsys, "info", "--list")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list_models()
    for line in lines:
        entry = get_model_entry(line.split()[0])
        assert entry.family in line
        assert "input " + "x".join(map(str, entry.default_input_shape)) in line
        assert "run options: " + (", ".join(entry.tunable) or "-") in line


def test_info_without_a_model_says_how_to_list_them(capsys):
    code, _, err = kzoo(capsys, "info")
    assert code == 2
    line = one_error_line(err)
    assert "--model is required (or --list" in line and "vgg16" in line
