"""`serving_default` decodes a batch in one pass and decodes it again image
by image only when that pass fails, to name the bad image, or when the batch
holds a GIF or WebP (issue 30, section 2): the same pixels as
`decode_to_model_input`, the same errors."""

import collections

import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.data import images as image_ops
from kzoo.export import export_saved_model, load_serving_signature
from kzoo.export.saved_model import _decode_batch
from kzoo.testing.images import write_image
from tests.data.frames_helpers import animated_webp, gif_with_frames, random_frames
from tests.data.helpers import png_declaring

SIZE = (8, 8)


def _model(channels):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((*SIZE, channels)), keras.layers.Flatten(),
                             keras.layers.Dense(2)])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = tmp_path_factory.mktemp("export")
    return {channels: export_saved_model(_model(channels), str(base / str(channels)),
                                         ["a", "b"])
            for channels in (1, 3)}


def _png(height, width, channels, seed=0):
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, channels),
                                                  dtype=np.uint8)
    return image_ops.encode_png(pixels).numpy()


def _file_bytes(tmp_path, name, pixels):
    path = tmp_path / name
    write_image(str(path), pixels)
    return path.read_bytes()


def _batches(tmp_path):
    """Batches that take each way through the one-pass decode."""
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (*SIZE, 3), dtype=np.uint8)
    gif = gif_with_frames(SIZE, [(0, 0, *SIZE)] * 3)
    webp = animated_webp(random_frames(2, *SIZE, channels=4))
    return {
        # the model's size, one channel count: converted as one batch
        "gray": [_png(*SIZE, 1, seed) for seed in range(5)],
        "rgb": [_png(*SIZE, 3, seed) for seed in range(5)],
        "rgba": [_png(*SIZE, 4, seed) for seed in range(3)],
        "gray+alpha": [_png(*SIZE, 2, seed) for seed in range(3)],
        # the model's size, mixed channels and formats: converted one by one
        "mixed": [_png(*SIZE, 1), _png(*SIZE, 3), _png(*SIZE, 4), _png(*SIZE, 2),
                  _file_bytes(tmp_path, "a.jpg", rgb), _file_bytes(tmp_path, "a.bmp", rgb)],
        # first frames of a GIF and an animated WebP: one by one
        "animations": [_png(*SIZE, 3), gif, webp],
        # other sizes: decoded, converted and resized one by one
        "sizes": [_png(8, 8, 3), _png(20, 13, 1), _png(5, 9, 4),
                  _file_bytes(tmp_path, "b.jpg", rng.integers(0, 256, (30, 17, 3),
                                                               dtype=np.uint8))],
        "sizes and a GIF": [_png(20, 13, 1), gif],
        "one": [_png(*SIZE, 3)],
    }


def _one_by_one(encoded, channels):
    return np.stack([image_ops.decode_to_model_input(tf.constant(e), SIZE, channels)
                     for e in encoded])


decode_batch = tf.function(_decode_batch, reduce_retracing=True)


@pytest.mark.parametrize("channels", [1, 3])
def test_every_way_gives_the_pixels_of_decode_to_model_input(channels, tmp_path):
    for name, encoded in _batches(tmp_path).items():
        got = decode_batch(tf.constant(encoded), SIZE, channels,
                           image_ops.MAX_IMAGE_PIXELS)
        np.testing.assert_array_equal(got.numpy(), _one_by_one(encoded, channels),
                                      err_msg=name)


def _ops_run(version_dir, batches):
    """`{name: Counter of the op types serving_default ran}` on each batch,
    functions included."""
    ran = {}
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta = tf.compat.v1.saved_model.loader.load(session, ["serve"], version_dir)
        signature = meta.signature_def["serving_default"]
        for name, encoded in batches.items():
            metadata = tf.compat.v1.RunMetadata()
            session.run(signature.outputs["logits"].name,
                        {signature.inputs["images"].name: encoded},
                        options=tf.compat.v1.RunOptions(
                            trace_level=tf.compat.v1.RunOptions.FULL_TRACE),
                        run_metadata=metadata)
            ran[name] = collections.Counter(
                node.timeline_label.partition(" = ")[2].partition("(")[0]
                for device in metadata.step_stats.dev_stats  # "name = Op(inputs)"
                for node in device.node_stats)
    return ran


ANIMATIONS = ("animations", "sizes and a GIF")


@pytest.mark.large
@pytest.mark.parametrize("channels", [1, 3])
def test_a_batch_that_decodes_builds_no_dataset_of_one_element_an_image(
        channels, exported, tmp_path):
    batches = _batches(tmp_path)
    batches["256"] = [_png(*SIZE, 1, seed) for seed in range(256)]
    for name, ran in _ops_run(exported[channels], batches).items():
        # the one pass (a dataset of the whole batch, whose failure could be
        # caught) ran, and the trace sees into the signature's functions
        assert ran["TensorDataset"] >= 1, name
        # the per-image pass: a dataset sliced image by image, a parallel map
        per_image = {op for op in ran if op.startswith(("TensorSliceDataset",
                                                        "ParallelMapDataset"))}
        if name in ANIMATIONS:  # first frames: `decode_to_model_input` as before
            assert per_image == {"TensorSliceDataset", "ParallelMapDatasetV2"}, name
        else:
            assert per_image == set(), name
            assert ran["DatasetToSingleElement"] == 1, name


def _serve_error(serve, encoded):
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        serve(images=tf.constant(encoded))
    return str(info.value)


def test_a_bad_image_anywhere_in_a_batch_of_256_is_named(exported):
    serve = load_serving_signature(exported[3])
    good = [_png(*SIZE, 3, seed) for seed in range(4)] * 64
    truncated = good[0][: len(good[0]) // 2]
    corrupt = good[1][:40] + bytes(len(good[1]) - 40)  # header whole, data zeros
    gif_cut_short = gif_with_frames(SIZE, [(0, 0, *SIZE)] * 300)[:40]
    cases = [(0, truncated), (137, corrupt), (255, b""), (64, b"not an image"),
             (200, gif_cut_short)]
    for index, bad in cases:
        batch = list(good)
        batch[index] = bad
        assert (f"image {index} of the batch cannot be read or decoded as a JPEG, "
                "PNG, BMP, GIF or WebP image") in _serve_error(serve, batch)
    # the first of two bad images is named, whichever check finds each
    batch = list(good)
    batch[30], batch[10] = truncated, png_declaring(23000, 23000)
    assert "image 10 of the batch declares 23000x23000 pixels" in _serve_error(
        serve, batch)
    batch[10] = corrupt
    assert "image 10 of the batch cannot be read" in _serve_error(serve, batch)


def test_a_batch_after_a_failed_one_is_served(exported):
    serve = load_serving_signature(exported[1])
    good = [_png(*SIZE, 1, seed) for seed in range(3)]
    with pytest.raises(tf.errors.InvalidArgumentError):
        serve(images=tf.constant(good + [b"\x89PNG\r\n\x1a\n broken"]))
    out = serve(images=tf.constant(good))
    want = _model(1)(_one_by_one(good, 1))
    np.testing.assert_allclose(out["logits"].numpy(), want, atol=1e-4)
