import keras
import numpy as np
import pytest
import tensorflow as tf

from kzoo.augment import CutMix, MixUp


def _indexed_batch(batch=16, size=13):
    """Image i is constant (i + 1) * 10 and has label i: pixels reveal partners."""
    values = (np.arange(batch, dtype="float32") + 1) * 10
    images = np.broadcast_to(values[:, None, None, None], (batch, size, size, 3)).copy()
    return images, np.arange(batch), values


@pytest.mark.parametrize("alpha", [0.3, 1.0, 4.0])
def test_cutmix_labels_equal_the_pasted_pixel_fraction(alpha):
    images, labels, values = _indexed_batch()
    out, mixed = CutMix(alpha=alpha, num_classes=16, seed=1)(images, labels)
    out, mixed = np.asarray(out)[..., 0], np.asarray(mixed)
    pixels = out.shape[1] * out.shape[2]
    for i in range(len(images)):
        fractions = np.array([(out[i] == v).sum() / pixels for v in values])
        # Exact by construction; the acceptance bar is one pixel.
        np.testing.assert_allclose(mixed[i], fractions, atol=1.0 / pixels)
    assert (mixed.max(axis=1) < 1).sum() > 4  # boxes were pasted
    boxes_cut_by_border = (mixed.max(axis=1) > 0.5).sum()
    assert boxes_cut_by_border >= 1


def test_cutmix_pastes_one_rectangle():
    images, labels, values = _indexed_batch(8, 20)
    out, _ = CutMix(num_classes=8, seed=3)(images, labels)
    for i, image in enumerate(np.asarray(out)[..., 0]):
        pasted = np.argwhere(image != values[i])
        if len(pasted):
            (y0, x0), (y1, x1) = pasted.min(0), pasted.max(0)
            assert len(pasted) == (y1 - y0 + 1) * (x1 - x0 + 1)


@pytest.mark.parametrize("layer_cls", [CutMix, MixUp])
def test_labels_sum_to_one_and_integer_labels_become_one_hot(layer_cls):
    images, labels, _ = _indexed_batch()
    out, mixed = layer_cls(num_classes=16, seed=0)(images, labels)
    assert tuple(out.shape) == images.shape and mixed.shape == (16, 16)
    np.testing.assert_allclose(np.asarray(mixed).sum(axis=1), 1.0, atol=1e-6)
    one_hot = keras.ops.one_hot(labels, 16)
    _, same = layer_cls(seed=0)(images, one_hot)
    np.testing.assert_allclose(np.asarray(same), np.asarray(mixed), atol=1e-6)


def test_mixup_images_follow_the_label_weights():
    images, labels, values = _indexed_batch()
    out, mixed = MixUp(alpha=1.0, num_classes=16, seed=2)(images, labels)
    expected = np.asarray(mixed) @ values
    np.testing.assert_allclose(np.asarray(out)[:, 0, 0, 0], expected, rtol=1e-5)


@pytest.mark.parametrize("layer_cls", [CutMix, MixUp])
def test_probability_zero_and_inference_leave_the_batch_alone(layer_cls):
    images, labels, _ = _indexed_batch()
    for kwargs, training in (({"probability": 0.0}, True), ({}, False)):
        out, mixed = layer_cls(num_classes=16, seed=0, **kwargs)(
            images, labels, training=training
        )
        np.testing.assert_array_equal(np.asarray(out), images)
        np.testing.assert_array_equal(np.asarray(mixed), np.eye(16))


def test_probability_mixes_about_that_share():
    images, labels, _ = _indexed_batch(256, 4)
    _, mixed = MixUp(probability=0.5, num_classes=256, seed=0)(images, labels)
    share = (np.asarray(mixed).max(axis=1) < 1.0).mean()
    assert 0.35 < share < 0.65


@pytest.mark.parametrize("layer_cls", [CutMix, MixUp])
def test_runs_in_tf_data_and_is_seeded(layer_cls):
    images, labels, _ = _indexed_batch()
    layer = layer_cls(num_classes=16, seed=5)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8).map(layer)
    for x, y in ds:
        assert x.shape == (8, 13, 13, 3) and y.shape == (8, 16)
    a = np.asarray(layer_cls(num_classes=16, seed=5)(images, labels)[1])
    b = np.asarray(layer_cls(num_classes=16, seed=5)(images, labels)[1])
    c = np.asarray(layer_cls(num_classes=16, seed=6)(images, labels)[1])
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    config = layer.get_config()
    assert layer_cls.from_config(config).get_config() == config


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"alpha": 0.0}, "alpha"),
        ({"probability": 1.5}, "probability"),
        ({"num_classes": 0}, "num_classes"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CutMix(**kwargs)


def test_integer_labels_without_num_classes_is_a_clear_error():
    images, labels, _ = _indexed_batch()
    with pytest.raises(ValueError, match="num_classes"):
        MixUp()(images, labels)
