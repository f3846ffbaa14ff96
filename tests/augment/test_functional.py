import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, ImageEnhance, ImageOps

from kzoo.augment import functional as F


@pytest.fixture(scope="module")
def image():
    """A smooth colour image with noise, not spanning the full range."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:20, 0:24]
    img = np.stack([xx * 5 + 30, yy * 6 + 40, (xx + yy) * 3 + 50], -1)
    return np.clip(img + rng.integers(0, 30, (20, 24, 3)), 0, 255).astype("uint8")


def _max_diff(ours, reference):
    return np.abs(np.asarray(ours) - np.asarray(reference, dtype="float32")).max()


@pytest.mark.parametrize(
    "fn,reference",
    [
        (F.auto_contrast, ImageOps.autocontrast),
        (F.equalize, ImageOps.equalize),
        (lambda x: F.solarize(x, 128.0), lambda p: ImageOps.solarize(p, 128)),
        (lambda x: F.posterize(x, 3), lambda p: ImageOps.posterize(p, 3)),
    ],
)
def test_pil_ops_parity(image, fn, reference):
    # PIL works on uint8 and rounds; ours stays float: within one grey level.
    assert (
        _max_diff(fn(image.astype("float32")), reference(Image.fromarray(image))) <= 1.0
    )


@pytest.mark.parametrize("name", ["Color", "Contrast", "Brightness", "Sharpness"])
@pytest.mark.parametrize("factor", [0.1, 0.5, 1.0, 1.9])
def test_pil_enhance_parity(image, name, factor):
    ours = getattr(F, name.lower())(image.astype("float32"), factor)
    theirs = getattr(ImageEnhance, name)(Image.fromarray(image)).enhance(factor)
    # PIL rounds its grey image and its output to integers: <= 1.5 levels.
    assert _max_diff(ours, theirs) <= 1.5


def _convolution_sharpness(batch, factor):
    """The depthwise-convolution formulation `F.sharpness` replaced."""
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], "float32") / 13.0
    kernel = np.tile(kernel[:, :, None, None], (1, 1, batch.shape[-1], 1))
    smooth = tf.nn.depthwise_conv2d(batch, kernel, [1, 1, 1, 1], "VALID")
    degenerate = batch.copy()
    degenerate[:, 1:-1, 1:-1] = smooth.numpy()
    return np.clip(degenerate + factor * (batch - degenerate), 0.0, 255.0)


@pytest.mark.parametrize("factor", [0.0, 0.4, 1.9])
def test_sharpness_equals_the_convolution_it_replaces(image, factor):
    noise = np.random.default_rng(1).uniform(0, 1, image.shape)  # non-integer too
    batch = np.stack([image, 255 - image, image + noise]).astype("float32")
    np.testing.assert_allclose(
        np.asarray(F.sharpness(batch, factor)),
        _convolution_sharpness(batch, factor),
        rtol=0,
        atol=1e-4,
    )


@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 5, 1), (5, 2, 2), (3, 3, 1)])
def test_sharpness_of_tiny_images_smooths_only_the_interior(shape):
    x = np.random.default_rng(2).integers(0, 256, shape).astype("float32")
    expected = x.copy()
    if min(shape[:2]) == 3:  # one interior pixel: (sum of 3x3 + 4 * centre) / 13
        expected[1, 1] = (x.sum(axis=(0, 1)) + 4 * x[1, 1]) / 13.0
    np.testing.assert_allclose(np.asarray(F.sharpness(x, 0.0)), expected, atol=1e-4)


def test_equalize_constant_channel_is_unchanged():
    x = np.full((8, 8, 1), 77.0, "float32")
    np.testing.assert_array_equal(np.asarray(F.equalize(x)), x)


def test_affine_from_points_solves_the_six_parameters():
    true = np.array([[1.2, -0.3, 4.0], [0.25, 0.9, -2.0]], "float32")
    src = np.array([[0.0, 0.0], [10.0, 1.0], [2.0, 7.0]], "float32")
    dst = src @ true[:, :2].T + true[:, 2]
    np.testing.assert_allclose(
        np.asarray(F.affine_from_points(src, dst)), true, atol=1e-5
    )
    batched = F.affine_from_points(np.stack([src, src]), np.stack([dst, src]))
    np.testing.assert_allclose(
        np.asarray(batched)[1], [[1, 0, 0], [0, 1, 0]], atol=1e-5
    )


def test_translate_moves_content_by_whole_pixels():
    x = np.zeros((1, 6, 6, 1), "float32")
    x[0, 2, 1] = 255.0
    out = np.asarray(
        F.warp(
            x,
            F.translate_matrix(np.array([3.0]), np.array([-1.0])),
            interpolation="nearest",
            fill_value=0.0,
        )
    )
    assert out[0, 1, 4, 0] == 255.0 and out.sum() == 255.0


def test_value_range_is_validated():
    with pytest.raises(ValueError, match="value_range"):
        F.check_value_range((1, 0))


@pytest.mark.parametrize("name", ["brightness", "color", "contrast", "sharpness"])
def test_enhance_on_a_batch_equals_each_image_alone(image, name):
    # A batch of images with different mean levels, one factor per image.
    batch = np.stack([image, image // 3, 255 - image]).astype("float32")
    factors = np.array([0.3, 1.6, 0.8], "float32").reshape(3, 1, 1, 1)
    fn = getattr(F, name)
    together = np.asarray(fn(batch, factors))
    for i in range(3):
        np.testing.assert_allclose(together[i], np.asarray(fn(batch[i], factors[i])),
                                   atol=1e-3)
