"""Every RandAugment op keeps its input's shape for 0, 1 and several images.

RandAugment runs each op on the group of images that drew it, often none.
What a kernel returns for an empty batch can depend on the CPU (TensorFlow's
oneDNN "valid" depthwise conv returned `(0, H, W, C)` on AVX-512 machines),
so these run with TensorFlow's default settings, eagerly, in `tf.function`
and in `tf.data`, with an unknown batch dimension as the gathered groups have.
"""

import numpy as np
import pytest
import tensorflow as tf

from kzoo.augment import OP_NAMES, OPS, RandAugment

SIZES = (0, 1, 5)
MODES = ("eager", "tf.function", "tf.data")
SHAPES = ((12, 12, 3), (10, 14, 1))


def _op(name, images):
    """Op `name` at magnitude 9 on `images`, signs alternating per image."""
    fn, geometric = OPS[name]
    args = ("nearest", 128.0) if geometric else ()
    signs = tf.where(tf.range(tf.shape(images)[0]) % 2 == 0, 1.0, -1.0)
    return fn(images, 9.0, signs, *args)


def _every_op(images):
    return {name: _op(name, images) for name in OP_NAMES}


def _images(shape):
    rng = np.random.default_rng(0)
    return tf.constant(rng.integers(0, 256, (max(SIZES),) + shape), tf.float32)


@pytest.fixture(scope="module")
def graph_runs():
    """`shape -> mode -> [{name: output} of the first n images, n in SIZES]`.

    Every op in one trace per shape and mode; the batch size is unknown to
    the graph, as for the gathered groups.
    """
    runs = {}
    for shape in SHAPES:
        images = _images(shape)
        spec = tf.TensorSpec((None,) + shape, tf.float32)
        graph = tf.function(_every_op, input_signature=[spec])
        sizes = tf.constant(SIZES)
        dataset = tf.data.Dataset.range(len(SIZES)).map(
            lambda i, images=images: images[: sizes[i]]
        )
        runs[shape] = {
            "tf.function": [graph(images[:n]) for n in SIZES],
            "tf.data": list(dataset.map(_every_op)),
        }
    return runs


@pytest.mark.large
@pytest.mark.parametrize("name", OP_NAMES)
def test_every_op_keeps_the_shape_of_0_1_and_5_images(request, name):
    for shape in SHAPES:
        images = _images(shape)
        # Eager op by op first, so that a failure names its op.
        outputs = {"eager": [_op(name, images[:n]) for n in SIZES]}
        graphs = request.getfixturevalue("graph_runs")[shape]
        outputs.update({mode: [out[name] for out in graphs[mode]] for mode in graphs})
        for mode, runs in outputs.items():
            for n, out in zip(SIZES, runs, strict=True):
                out = np.asarray(out)
                assert out.shape == (n,) + shape, (mode, n)
                assert np.all(np.isfinite(out) & (out >= 0) & (out <= 255)), (mode, n)


def _apply(layer, images, mode):
    if mode == "eager":
        return layer(images)
    if mode == "tf.function":
        return tf.function(layer)(images)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(len(images))
    return next(iter(dataset.map(layer)))


@pytest.mark.large
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channels", [3, 1])
def test_randaugment_on_identical_images(channels, mode):
    # recipes/noisy_student.py's crash: at these draws some ops get no image,
    # and the convolution sharpness returned (0, 34, 34, C) for its empty
    # group on AVX-512 CPUs; rand_augment/SelectV2 then failed to broadcast.
    image = np.random.default_rng(1).integers(0, 256, (32, 32, channels))
    images = np.repeat(image[None], 16, axis=0).astype("float32")
    indices, _ = RandAugment(num_ops=2, magnitude=9, seed=1).draw(16)
    assert len(np.unique(np.asarray(indices)[:, 0])) < len(OP_NAMES)  # empty groups
    out = np.asarray(_apply(RandAugment(num_ops=2, magnitude=9, seed=1), images, mode))
    assert out.shape == images.shape
    assert np.all(np.isfinite(out) & (out >= 0.0) & (out <= 255.0))


def test_randaugment_on_an_empty_batch():
    out = RandAugment(num_ops=2, magnitude=9, seed=0)(np.zeros((0, 8, 8, 3)))
    assert tuple(out.shape) == (0, 8, 8, 3)


def test_the_shape_contract_holds_whatever_a_kernel_returns(monkeypatch):
    # What oneDNN's conv did on AVX-512 (an empty batch unshrunk), simulated
    # so that every machine checks the guard: an empty group still comes back
    # (0, H, W, C); a wrong shape with images in it fails in the reshape
    # instead of broadcasting.
    def misshapen(images, m, signs):
        return np.zeros((len(images), 10, 10, 3), "float32")

    monkeypatch.setitem(OPS, "sharpness", (misshapen, False))
    layer = RandAugment(num_ops=1, ops=["identity", "sharpness"], seed=0)
    images, sign = np.ones((3, 8, 8, 3), "float32"), np.ones(3, "float32")
    out = layer._apply_grouped(images, np.array([0, 0, 0]), sign)
    np.testing.assert_array_equal(np.asarray(out), images)
    with pytest.raises(tf.errors.InvalidArgumentError, match="reshape"):
        layer._apply_grouped(images, np.array([0, 1, 0]), sign)
