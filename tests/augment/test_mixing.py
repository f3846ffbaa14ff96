import keras
import numpy as np
import pytest

from kzoo.augment import CutMix, MixUp
from kzoo.testing.augmentation import assert_label_mixing_contract


def _indexed_batch(batch=16, size=13):
    """Image i is constant (i + 1) * 10 and has label i: pixels reveal partners."""
    values = (np.arange(batch, dtype="float32") + 1) * 10
    images = np.broadcast_to(values[:, None, None, None], (batch, size, size, 3)).copy()
    return images, np.arange(batch), values


def _mix(layer, images, labels, **kwargs):
    out = layer({"images": images, "labels": labels}, **kwargs)
    return np.asarray(out["images"]), np.asarray(out["labels"])


@pytest.mark.parametrize("layer_cls", [CutMix, MixUp])
def test_layer_contract(layer_cls):
    images, _, _ = _indexed_batch()
    assert_label_mixing_contract(
        lambda seed, num_classes: layer_cls(num_classes=num_classes, seed=seed),
        images,
        num_classes=16,
    )


@pytest.mark.parametrize("alpha", [0.3, 1.0, 4.0])
def test_cutmix_labels_equal_the_pasted_pixel_fraction(alpha):
    images, labels, values = _indexed_batch()
    out, mixed = _mix(CutMix(alpha=alpha, num_classes=16, seed=1), images, labels)
    out = out[..., 0]
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
    out, _ = _mix(CutMix(num_classes=8, seed=3), images, labels)
    for i, image in enumerate(out[..., 0]):
        pasted = np.argwhere(image != values[i])
        if len(pasted):
            (y0, x0), (y1, x1) = pasted.min(0), pasted.max(0)
            assert len(pasted) == (y1 - y0 + 1) * (x1 - x0 + 1)


@pytest.mark.parametrize("layer_cls", [CutMix, MixUp])
def test_labels_sum_to_one_and_integer_labels_become_one_hot(layer_cls):
    images, labels, _ = _indexed_batch()
    out, mixed = _mix(layer_cls(num_classes=16, seed=0), images, labels)
    assert out.shape == images.shape and mixed.shape == (16, 16)
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-6)
    one_hot = keras.ops.one_hot(labels, 16)
    _, same = _mix(layer_cls(seed=0), images, one_hot)
    np.testing.assert_allclose(same, mixed, atol=1e-6)


def test_mixup_images_follow_the_label_weights():
    images, labels, values = _indexed_batch()
    out, mixed = _mix(MixUp(alpha=1.0, num_classes=16, seed=2), images, labels)
    np.testing.assert_allclose(out[:, 0, 0, 0], mixed @ values, rtol=1e-5)


@pytest.mark.parametrize("layer_cls", [CutMix, MixUp])
def test_probability_zero_and_inference_leave_the_batch_alone(layer_cls):
    images, labels, _ = _indexed_batch()
    for kwargs, training in (({"probability": 0.0}, True), ({}, False)):
        layer = layer_cls(num_classes=16, seed=0, **kwargs)
        out, mixed = _mix(layer, images, labels, training=training)
        np.testing.assert_array_equal(out, images)
        np.testing.assert_array_equal(mixed, np.eye(16))
        alone = layer(images, training=training)
        np.testing.assert_array_equal(np.asarray(alone), images)


def test_probability_mixes_about_that_share():
    images, labels, _ = _indexed_batch(256, 4)
    _, mixed = _mix(MixUp(probability=0.5, num_classes=256, seed=0), images, labels)
    share = (mixed.max(axis=1) < 1.0).mean()
    assert 0.35 < share < 0.65


@pytest.mark.parametrize("layer_cls", [CutMix, MixUp])
def test_symbolic_output_shapes(layer_cls):
    layer = layer_cls(num_classes=5)
    shapes = layer.compute_output_shape({"images": (None, 8, 8, 3), "labels": (None,)})
    assert shapes == {"images": (None, 8, 8, 3), "labels": (None, 5)}
    assert layer.compute_output_shape((None, 8, 8, 3)) == (None, 8, 8, 3)


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
        MixUp()({"images": images, "labels": labels})


@pytest.mark.parametrize("layer_cls", [CutMix, MixUp])
def test_single_images_and_missing_images_are_clear_errors(layer_cls):
    images, labels, _ = _indexed_batch()
    with pytest.raises(ValueError, match="batches"):
        layer_cls(num_classes=16)(images[0])
    with pytest.raises(ValueError, match='"images"'):
        layer_cls(num_classes=16)({"labels": labels})
