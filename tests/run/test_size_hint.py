"""Photos trained with LeNet-5 at 32 px: one line naming a pretrained
backbone. Digits-sized or grey images get none."""

import numpy as np
import pytest
from PIL import Image

from kzoo.data import load_data
from kzoo.run import inputs
from tests.run.helpers import SMOKE_FLAGS, kzoo

HINT = "hint: these are RGB images of about"


def _folder(root, size, mode="RGB", per_class=6):
    rng = np.random.default_rng(0)
    height, width = size
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            shape = (height, width, 3) if mode == "RGB" else (height, width)
            pixels = rng.integers(0, 256, shape, dtype=np.uint8)
            Image.fromarray(pixels, mode).save(root / name / f"{i}.png")
    return str(root)


def test_photos_with_lenet5_get_one_line_naming_a_backbone(tmp_path, capsys):
    data = _folder(tmp_path / "photos", (90, 120))
    code, out, err = kzoo(capsys, "train", "--data", data, *SMOKE_FLAGS,
                          "--out", tmp_path / "run")
    assert code == 0, err
    lines = [line for line in out.splitlines() if line.startswith("hint:")]
    assert lines == [(
        f"{HINT} 120 px; lenet5 sees them at 32 px, a network made for 32 px "
        "digits. A pretrained backbone fits photos: --model mobilenet_v3_small "
        "--weights imagenet --input-size 128 (kzoo info --list: the others), or "
        "kzoo transfer --source mobilenet_v3_small --weights imagenet "
        "--input-size 128 for a head on its features (the fastest on a CPU)")]


@pytest.mark.parametrize("name,size,mode,input_size", [
    ("lenet5", (48, 48), "RGB", 32),     # small images: LeNet-sized
    ("lenet5", (100, 100), "L", 32),     # grey
    ("lenet5", (100, 100), "RGB", 64),   # not at 32 px
    ("vgg11", (100, 100), "RGB", 32),    # not LeNet-5
])
def test_no_hint_otherwise(name, size, mode, input_size, tmp_path, capsys):
    data = load_data(_folder(tmp_path / "imgs", size, mode),
                     image_size=(input_size, input_size))
    inputs.size_hint(name, data)
    assert capsys.readouterr().out == ""


def test_data_size_is_the_images_own(tmp_path):
    data = load_data(_folder(tmp_path / "p", (70, 30)), image_size=(16, 16))
    assert data.data_size == 70
    assert load_data("digits", image_size=(32, 32)).data_size == 8
