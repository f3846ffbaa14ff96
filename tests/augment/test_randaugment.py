import keras
import numpy as np
import pytest

from kzoo.augment import OP_NAMES, OPS, RandAugment
from kzoo.testing.augmentation import assert_augmentation_contract


def _apply(name, image, magnitude, sign=1.0):
    """One op on one image through the batched op table."""
    fn, geometric = OPS[name]
    args = ("nearest", 128.0) if geometric else ()
    out = fn(image[None], float(magnitude), np.array([sign], "float32"), *args)
    return np.asarray(out)[0]


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:24, 0:24]
    img = np.stack([xx * 9 + 10, yy * 9 + 5, 200 - xx * 4], -1) + rng.integers(
        0, 20, (24, 24, 3)
    )
    return np.clip(img, 0, 255).astype("float32")


def test_the_papers_fourteen_ops():
    assert OP_NAMES == (
        "identity",
        "auto_contrast",
        "equalize",
        "rotate",
        "solarize",
        "color",
        "posterize",
        "contrast",
        "brightness",
        "sharpness",
        "shear_x",
        "shear_y",
        "translate_x",
        "translate_y",
    )


@pytest.mark.parametrize(
    "name", [n for n in OP_NAMES if n not in ("auto_contrast", "equalize")]
)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_magnitude_zero_is_identity(image, name, sign):
    # auto_contrast and equalize take no magnitude (PIL parity is tested instead).
    np.testing.assert_allclose(_apply(name, image, 0, sign), image, atol=1e-4)


def test_solarize_inverts_pixels_above_the_threshold(image):
    half = _apply("solarize", image, 5)  # threshold 256 - 128 = 128
    np.testing.assert_array_equal(half, np.where(image < 128, image, 255 - image))
    np.testing.assert_array_equal(_apply("solarize", image, 30), 255 - image)


@pytest.mark.parametrize("magnitude,bits", [(0, 8), (5, 6), (10, 4), (30, 1)])
def test_posterize_keeps_the_documented_bits(image, magnitude, bits):
    out = _apply("posterize", image, magnitude)
    step = 2 ** (8 - bits)
    np.testing.assert_array_equal(out % step, 0)
    np.testing.assert_array_equal(out, np.floor(image) // step * step)


def test_shear_x_keeps_each_row_and_the_row_order():
    rows = np.repeat(np.arange(1, 17, dtype="float32")[:, None, None] * 10, 16, axis=1)
    out = _apply("shear_x", rows, 30)  # shear 0.9
    for r in range(16):
        values = set(np.unique(out[r])) - {128.0}
        assert values <= {rows[r, 0, 0]}
    assert not np.array_equal(out, rows)


@pytest.mark.parametrize("name,axis", [("translate_x", 1), ("translate_y", 0)])
def test_translate_moves_content_along_its_axis(name, axis):
    x = np.zeros((20, 20, 1), "float32")
    x[10, 10] = 255.0
    out = _apply(name, x, 5)  # 0.225 * 20 = 4.5 pixels
    moved = np.argwhere(out[..., 0] == 255.0)[0]
    assert moved[1 - axis] == 10 and abs(moved[axis] - 10) in (4, 5)


def test_rotate_at_magnitude_30_is_a_quarter_turn():
    x = np.arange(16 * 16, dtype="float32").reshape(16, 16, 1) % 251
    out = _apply("rotate", x, 30)[..., 0]
    assert any(np.array_equal(out, np.rot90(x[..., 0], k)) for k in (1, 3))


@pytest.mark.parametrize(
    "name,measure",
    [
        ("brightness", np.mean),
        ("contrast", np.std),
        ("color", lambda x: np.std(x, axis=-1).mean()),
    ],
)
def test_enhance_ops_move_in_the_documented_direction(image, name, measure):
    assert measure(_apply(name, image, 10, -1.0)) < 0.3 * measure(image)  # factor 0.1
    assert measure(_apply(name, image, 5, 1.0)) > measure(image)  # factor 1.45


def test_sharpness_sign_changes_edge_strength(image):
    def edges(x):
        return np.abs(np.diff(x, axis=1)).mean()

    assert edges(_apply("sharpness", image, 10, -1.0)) < edges(image)
    assert edges(_apply("sharpness", image, 10, 1.0)) > edges(image)


@pytest.mark.large
def test_layer_contract(image):
    batch = np.stack([image, image[::-1], image[:, ::-1], 255 - image])
    assert_augmentation_contract(lambda seed: RandAugment(2, 9, seed=seed), batch)


def test_uint8_images_keep_their_dtype(image):
    out = RandAugment(2, 9, seed=0)(image.astype("uint8")[None])
    assert out.dtype == "uint8"


def test_ops_are_drawn_independently_per_image(image):
    layer = RandAugment(num_ops=1, magnitude=9, seed=0)
    indices, _ = layer.draw(64)
    assert len(np.unique(np.asarray(indices))) > 8
    out = np.asarray(layer(np.repeat(image[None], 16, axis=0)))
    distinct = {out[i].tobytes() for i in range(16)}
    assert len(distinct) > 4


def _one_by_one(batch, magnitude, seed):
    """Reference: each image alone through its drawn ops, via the op table."""
    indices, signs = (
        np.asarray(v) for v in RandAugment(2, magnitude, seed=seed).draw(len(batch))
    )
    out = []
    for i, expected in enumerate(batch):
        for slot in range(2):
            expected = _apply(
                OP_NAMES[indices[i, slot]], expected, magnitude, signs[i, slot]
            )
        out.append(expected)
    return np.stack(out)


def test_grouped_batch_equals_each_image_alone(image):
    rng = np.random.default_rng(3)
    batch = np.clip(image[None] + rng.normal(0, 20, (24, 1, 1, 3)), 0, 255).astype(
        "float32"
    )
    np.testing.assert_allclose(
        np.asarray(RandAugment(2, 12, seed=5)(batch)),
        _one_by_one(batch, 12, seed=5),
        atol=1e-3,
    )
    # a single image takes the switch path: same draws, same result
    np.testing.assert_allclose(
        np.asarray(RandAugment(2, 12, seed=5)(batch[0])),
        _one_by_one(batch[:1], 12, seed=5)[0],
        atol=1e-3,
    )


def test_large_images_take_the_per_image_path_with_the_same_result():
    batch = np.random.default_rng(4).integers(0, 256, (4, 96, 96, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(RandAugment(2, 9, seed=1)(batch)),
        _one_by_one(batch, 9, seed=1),
        atol=1e-3,
    )


def test_ops_subset_and_num_ops_zero(image):
    batch = np.repeat(image[None], 4, axis=0)
    np.testing.assert_array_equal(np.asarray(RandAugment(0, 9, seed=0)(batch)), batch)
    only = np.asarray(RandAugment(3, 30, ops=["solarize"], seed=0)(batch))
    np.testing.assert_array_equal(only, np.repeat((255 - image)[None], 4, axis=0))


def test_value_range_unit_interval(image):
    x = image[None] / 255.0
    out = np.asarray(RandAugment(1, 30, ops=["solarize"], value_range=(0, 1))(x))
    np.testing.assert_allclose(out, 1.0 - x, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"magnitude": 31}, "magnitude"),
        ({"magnitude": 2.5}, "magnitude"),
        ({"num_ops": -1}, "num_ops"),
        ({"ops": ["cutout"]}, "ops"),
        ({"interpolation": "cubic"}, "interpolation"),
        ({"value_range": (1, 0)}, "value_range"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RandAugment(**kwargs)


@pytest.mark.large
def test_usable_as_a_model_layer(tmp_path, image):
    inputs = keras.Input((24, 24, 3))
    x = RandAugment(2, 9, seed=0)(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3)(x))
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batch = np.stack([image] * 4)
    model.fit(batch, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(
        np.asarray(restored.predict(batch, verbose=0)),
        np.asarray(model.predict(batch, verbose=0)),
        atol=1e-5,
    )
    assert isinstance(restored.layers[1], RandAugment)
