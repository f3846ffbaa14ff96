import numpy as np
import pytest

from kzoo.augment import RandomAffine, RandomCrop, RandomResizedCrop, RandomRotate90
from kzoo.testing.augmentation import assert_augmentation_contract


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (6, 16, 16, 3)).astype("float32")


@pytest.mark.parametrize(
    "make_layer,shape",
    [
        (lambda seed: RandomCrop(16, 16, padding=2, seed=seed), None),
        (lambda seed: RandomCrop(12, 10, seed=seed), (12, 10, 3)),
        (lambda seed: RandomResizedCrop(16, 16, seed=seed), None),
        (lambda seed: RandomResizedCrop(20, 12, seed=seed), (20, 12, 3)),
        (lambda seed: RandomRotate90(seed=seed), None),
        (lambda seed: RandomAffine(0.1, seed=seed), None),
    ],
)
def test_layer_contract(batch, make_layer, shape):
    assert_augmentation_contract(make_layer, batch, shape)


def test_random_crop_takes_a_window_of_the_padded_image_per_image(batch):
    same = np.repeat(batch[:1], 8, axis=0)
    out = np.asarray(RandomCrop(16, 16, padding=3, seed=0)(same))
    padded = np.pad(batch[0], ((3, 3), (3, 3), (0, 0)))
    offsets = set()
    for image in out:
        matches = [
            (y, x)
            for y in range(7)
            for x in range(7)
            if np.array_equal(padded[y : y + 16, x : x + 16], image)
        ]
        assert matches, "output is not a crop of the padded image"
        offsets.add(matches[0])
    assert len(offsets) > 2  # independent places per image


def test_random_crop_inference_is_the_central_crop(batch):
    out = RandomCrop(10, 8)(batch, training=False)
    np.testing.assert_array_equal(np.asarray(out), batch[:, 3:13, 4:12])


def test_resized_crop_of_the_whole_image_is_identity(batch):
    layer = RandomResizedCrop(16, 16, scale=(1.0, 1.0), ratio=(1.0, 1.0), seed=0)
    np.testing.assert_allclose(np.asarray(layer(batch)), batch, atol=1e-3)


def test_resized_crop_zooms_in(batch):
    smooth = np.repeat(
        np.linspace(0, 255, 16, dtype="float32")[None, None, :, None], 16, 1
    )
    smooth = np.repeat(smooth, 3, axis=-1).repeat(4, axis=0)
    out = np.asarray(RandomResizedCrop(16, 16, scale=(0.1, 0.2), seed=0)(smooth))
    # A 10-20% area crop spans a smaller range of the horizontal ramp.
    assert (out.max(axis=2) - out.min(axis=2)).mean() < 0.8 * 255


def test_rotate90_gives_exact_quarter_turns(batch):
    out = np.asarray(RandomRotate90(seed=0)(np.repeat(batch[:1], 12, axis=0)))
    turns = [
        next(k for k in range(4) if np.array_equal(image, np.rot90(batch[0], k)))
        for image in out
    ]
    assert len(set(turns)) > 1
    halves = np.asarray(RandomRotate90(turns=(2,), seed=0)(batch))
    np.testing.assert_array_equal(halves, batch[:, ::-1, ::-1])


def test_rotate90_odd_turns_need_square_images():
    with pytest.raises(ValueError, match="square"):
        RandomRotate90()(np.zeros((1, 8, 6, 1), "float32"))


def test_affine_without_shift_is_identity_and_with_shift_differs_per_image(batch):
    np.testing.assert_allclose(
        np.asarray(RandomAffine(0.0, seed=0)(batch)), batch, atol=1e-3
    )
    out = np.asarray(RandomAffine(0.15, seed=0)(np.repeat(batch[:1], 4, axis=0)))
    assert len({o.tobytes() for o in out}) == 4


@pytest.mark.parametrize(
    "make_layer,match",
    [
        (lambda: RandomCrop(0, 4), "height"),
        (lambda: RandomCrop(4, 4, padding=-1), "padding"),
        (lambda: RandomResizedCrop(4, 4, scale=(0.5, 0.2)), "scale"),
        (lambda: RandomResizedCrop(4, 4, ratio=(0, 1)), "ratio"),
        (lambda: RandomRotate90(turns=(5,)), "turns"),
        (lambda: RandomAffine(-0.1), "max_shift"),
    ],
)
def test_invalid_arguments(make_layer, match):
    with pytest.raises(ValueError, match=match):
        make_layer()


def test_crop_larger_than_padded_image_is_an_error(batch):
    with pytest.raises(ValueError, match="larger"):
        RandomCrop(20, 20)(batch)
