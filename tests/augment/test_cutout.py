import numpy as np
import pytest

from kzoo.augment import AugmentPolicy, Cutout
from kzoo.testing.augmentation import assert_augmentation_contract


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (64, 16, 16, 1)).astype("float32")


def test_layer_contract(batch):
    assert_augmentation_contract(lambda seed: Cutout(seed=seed), batch[:6])


def test_each_image_gets_one_square_of_the_fill_value_within_max_size(batch):
    # Images of 200s: the square is the pixels that became 10.
    images = np.full((64, 16, 16, 1), 200.0, "float32")
    out = np.asarray(Cutout(max_size=0.5, fill_value=10.0, seed=0)(images))
    assert set(np.unique(out)) <= {10.0, 200.0}
    sides = []
    for image in out[..., 0]:
        rows, cols = np.nonzero(image == 10.0)
        if rows.size == 0:
            continue  # a side drawn below one pixel
        height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert rows.size == height * width  # one filled rectangle
        sides.append(max(height, width))
    assert max(sides) <= 8  # half of 16 px
    assert len(set(sides)) > 3  # the sizes vary per image
    assert len(sides) > 48


def test_max_size_zero_is_identity(batch):
    out = np.asarray(Cutout(max_size=0.0, seed=0)(batch))
    np.testing.assert_array_equal(out, batch)


def test_the_policy_entry_builds_cutout():
    policy = AugmentPolicy("crop,cutout(max_size=0.25)", (16, 16), None, seed=0)
    assert isinstance(policy.layers[-1], Cutout)
    assert policy.layers[-1].max_size == 0.25


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_size=1.5), "max_size"),
    (dict(fill_value=300.0), "fill_value"),
])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Cutout(**kwargs)
