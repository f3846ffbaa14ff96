import numpy as np
import tensorflow as tf

from kzoo.data import images


def test_channel_conversions():
    rgb = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    gray = rgb[..., :1]
    rgba = np.concatenate([rgb, np.full((4, 5, 1), 7, np.uint8)], axis=-1)
    np.testing.assert_array_equal(images.convert_channels(gray, 3),
                                  np.repeat(gray, 3, axis=-1))
    np.testing.assert_array_equal(images.convert_channels(rgba, 3), rgb)
    np.testing.assert_array_equal(images.convert_channels(rgb, 3), rgb)
    want_gray = np.round(tf.image.rgb_to_grayscale(rgb.astype("float32")))
    np.testing.assert_array_equal(images.convert_channels(rgb, 1), want_gray)
    gray_alpha = np.concatenate([gray, gray], axis=-1)
    np.testing.assert_array_equal(images.convert_channels(gray_alpha, 1), gray)
    batch = np.stack([rgba, rgba])
    assert images.convert_channels(batch, 1).shape == (2, 4, 5, 1)


def test_decode_to_model_input_resizes_and_keeps_range():
    pixels = np.full((10, 6, 3), 200, np.uint8)
    encoded = images.encode_png(pixels)
    out = images.decode_to_model_input(encoded, (8, 8), 1)
    assert out.shape == (8, 8, 1) and out.dtype == tf.float32
    np.testing.assert_allclose(out, 200.0, atol=0.5)
