import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

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


def _encoded(fmt, pixels, **save_args):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **save_args)
    return buffer.getvalue()


def test_declared_size_reads_every_format_header_without_decoding():
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    rgba = np.concatenate([rgb, np.full((5, 7, 1), 128, np.uint8)], axis=-1)
    encoded = {
        "png": _encoded("PNG", rgb), "jpeg": _encoded("JPEG", rgb),
        "bmp": _encoded("BMP", rgb), "gif": _encoded("GIF", rgb),
        "webp_lossy": _encoded("WEBP", rgb), "webp_alpha": _encoded("WEBP", rgba),
        "webp_lossless": _encoded("WEBP", rgb, lossless=True),
    }
    # the three WebP headers: simple lossy, extended, lossless
    assert [encoded[k][12:16] for k in ("webp_lossy", "webp_alpha", "webp_lossless")
            ] == [b"VP8 ", b"VP8X", b"VP8L"]
    bmp = bytearray(encoded["bmp"])
    bmp[22:26] = (-5).to_bytes(4, "little", signed=True)  # rows stored top-down
    encoded["bmp_top_down"] = bytes(bmp)
    for name, data in encoded.items():
        assert images.declared_size(data).numpy().tolist() == [5, 7], name
        assert images.decode(data).shape[:2] == (5, 7), name
    batch = tf.reshape(tf.constant([*encoded.values(), b"text"]), [3, 3])
    np.testing.assert_array_equal(
        images.declared_size(batch),
        [[[5, 7]] * 3, [[5, 7]] * 3, [[5, 7]] * 2 + [[-1, -1]]])


def test_declared_size_of_anything_else_is_unknown():
    png = _encoded("PNG", np.zeros((5, 7), np.uint8))
    for data in [b"", b"BM", b"text file", png[:20], b"RIFF\0\0\0\0WEBPVP8Z"]:
        assert images.declared_size(data).numpy().tolist() == [-1, -1], data
    jpeg = _encoded("JPEG", np.zeros((5, 7, 3), np.uint8))
    for data in [b"\xff\xd8\xff\xe0 not a jpeg header", jpeg[:100],
                 jpeg[:2] + b"\xff\xd9" + jpeg[2:]]:  # end of image first
        assert images.declared_size(data).numpy().tolist() == [-1, -1], data


def test_declared_size_of_jpegs_walks_their_markers_like_libjpeg():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 255, (300, 200, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x010E] = "x" * 5000  # a long APP1 segment
    variants = [{}, {"progressive": True}, {"optimize": True, "subsampling": 0},
                {"exif": exif.tobytes(), "icc_profile": b"\0" * 70000}]
    for save_args in variants:
        data = _encoded("JPEG", pixels, **save_args)
        filled = data[:2] + b"\xff\xff" + data[2:]  # fill bytes before a marker
        for jpeg in (data, filled):
            want = tf.io.extract_jpeg_shape(jpeg).numpy()[:2].tolist()
            assert images.declared_size(jpeg).numpy().tolist() == want == [300, 200]


def test_within_pixel_limit_refuses_unknown_and_overflowing_sizes():
    sizes = tf.constant([[8000, 8000], [8000, 8001], [23000, 23000], [2**32 - 1] * 2,
                         [0, 5], [-1, -1], [1, 64_000_000]], tf.int64)
    ok = images.within_pixel_limit(sizes, 64_000_000).numpy().tolist()
    assert ok == [True, False, False, False, False, False, True]


def test_check_max_pixels():
    assert images.check_max_pixels(np.int64(10)) == 10
    for bad in (0, -1, 2.5, True, "10"):
        with pytest.raises(ValueError, match="Received: max_image_pixels="):
            images.check_max_pixels(bad)


def test_resize_to_the_same_size_is_the_identity_the_kernel_computes():
    rng = np.random.default_rng(0)
    for x in (rng.uniform(0, 255, (3, 32, 32, 1)), np.round(
            rng.uniform(0, 255, (2, 17, 9, 3)))):
        x = x.astype("float32")
        kernel = tf.image.resize(x, x.shape[1:3], method="bilinear", antialias=True)
        np.testing.assert_array_equal(images.resize(x, x.shape[1:3]), kernel)
        # Unknown shapes at trace time take the same path at run time.
        dynamic = tf.function(lambda t: images.resize(t, x.shape[1:3]),
                              input_signature=[tf.TensorSpec([None] * 4)])
        np.testing.assert_array_equal(dynamic(x), kernel)
        other = tf.image.resize(x, (8, 8), method="bilinear", antialias=True)
        np.testing.assert_allclose(images.resize(x, (8, 8)), np.clip(other, 0, 255))
        resized = tf.function(lambda t: images.resize(t, (8, 8)),
                              input_signature=[tf.TensorSpec([None] * 4)])(x)
        assert resized.shape == (len(x), 8, 8, x.shape[-1])
        np.testing.assert_allclose(resized, np.clip(other, 0, 255))
