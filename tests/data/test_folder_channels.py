"""A folder's channels come from its images: grey when every image decodes
to grey (with or without alpha), RGB when any has colour; `channels=`
overrides either way."""

import os

import numpy as np
import pytest
from PIL import Image

from kzoo.data import batched, items, load_data
from kzoo.data.sources import folder_source

SHAPES = {"L": (8, 8), "LA": (8, 8, 2), "RGB": (8, 8, 3), "RGBA": (8, 8, 4)}


def _image(path, mode, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, SHAPES[mode], np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels, mode).save(path)
    return path


def _folder(root, mode="L", fmt="png", per_class=4, unlabeled=0):
    for cls in ("a", "b"):
        for i in range(per_class):
            _image(os.path.join(root, "train", cls, f"{i}.{fmt}"), mode, i)
    for i in range(unlabeled):
        _image(os.path.join(root, "unlabeled", f"u{i}.{fmt}"), mode, i)
    return str(root)


def test_the_scan_gives_each_files_decoded_channels(tmp_path):
    paths = [_image(str(tmp_path / f"{mode}.png"), mode) for mode in SHAPES]
    paths.append(_image(str(tmp_path / "grey.jpg"), "L"))
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    reasons, channels = items.scan_image_files(paths + [str(text)])
    assert reasons[:-1] == [None] * 5 and reasons[-1] == items.images.NOT_DECODABLE
    assert channels.tolist() == [1, 2, 3, 4, 1, 0]


@pytest.mark.large
@pytest.mark.parametrize("mode,fmt", [("L", "png"), ("LA", "png"), ("L", "jpg")])
def test_a_folder_of_grey_images_loads_with_one_channel(tmp_path, mode, fmt):
    root = _folder(tmp_path / "grey", mode, fmt)
    data = load_data(root, image_size=(8, 8), val_fraction=0)
    assert data.image_shape == (8, 8, 1)
    assert data.data_channels == 1
    for x, _ in batched(data.train, 4):
        assert x.shape[1:] == (8, 8, 1)


@pytest.mark.large
def test_one_colour_image_anywhere_makes_the_folder_rgb(tmp_path):
    root = _folder(tmp_path / "mixed", "L", unlabeled=2)
    assert folder_source(root).channels == 1
    _image(os.path.join(root, "unlabeled", "colour.png"), "RGBA")
    parts = folder_source(root)
    assert parts.channels == 3
    data = load_data(root, image_size=(8, 8), val_fraction=0)
    assert data.image_shape == (8, 8, 3) and data.data_channels == 3


def test_channels_overrides_what_the_images_say(tmp_path):
    grey = load_data(_folder(tmp_path / "grey", "L"), image_size=(8, 8),
                     channels=3, val_fraction=0)
    assert grey.image_shape == (8, 8, 3) and grey.data_channels == 1
    x, _ = next(iter(grey.train))
    np.testing.assert_array_equal(x[..., 0], x[..., 2])  # grey repeated
    colour = load_data(_folder(tmp_path / "colour", "RGB"), image_size=(8, 8),
                       channels=1, val_fraction=0)
    assert colour.image_shape == (8, 8, 1) and colour.data_channels == 3
