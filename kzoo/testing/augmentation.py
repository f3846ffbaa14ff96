"""Behaviour every augmentation layer must show (see `kzoo.augment.base`)."""

import keras
import numpy as np
import tensorflow as tf


def _as_dataset(images, labels=None):
    if labels is None:
        return tf.data.Dataset.from_tensor_slices(images)
    return tf.data.Dataset.from_tensor_slices({"images": images, "labels": labels})


def _assert_registered(layer):
    rebuilt = type(layer).from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    assert keras.saving.get_registered_object(
        keras.saving.get_registered_name(type(layer))
    ) is type(layer)


def assert_augmentation_contract(make_layer, images, output_shape=None):
    """Check the shared contract of a per-image augmentation layer.

    - `training=False` returns the input (or its central crop, for layers
      that change size);
    - training output keeps batch/unbatched shape (or `output_shape`) and dtype;
    - it runs inside `tf.data.Dataset.map`, on batches and on single images;
    - equal seeds give equal outputs, different seeds different ones;
    - a `{"images", "labels"}` dict (batched or one image, eager or in
      `tf.data`) gives a dict: the same images as images alone, the labels
      and any other entry untouched;
    - `get_config` / `from_config` rebuilds an equal layer.

    Args:
        make_layer: `seed -> layer`.
        images: A numpy batch `(B, H, W, C)`.
        output_shape: Expected per-image output shape, default the input's.

    Returns:
        The training output of `make_layer(7)` on `images`.
    """
    shape = tuple(output_shape or images.shape[1:])
    batch = (len(images),) + shape
    layer = make_layer(7)
    if shape == images.shape[1:]:
        np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)

    out = layer(images)
    assert tuple(out.shape) == batch
    assert out.dtype == tf.as_dtype(images.dtype)
    single = layer(images[0])
    assert tuple(single.shape) == shape

    for x in _as_dataset(images).batch(len(images)).map(layer):
        assert tuple(x.shape) == batch
    for image in _as_dataset(images).map(layer).take(1):
        assert tuple(image.shape) == shape

    first = np.asarray(make_layer(3)(images))
    np.testing.assert_array_equal(first, np.asarray(make_layer(3)(images)))
    assert not np.array_equal(first, np.asarray(make_layer(4)(images)))

    labels = np.arange(len(images), dtype="int32")
    data = {"images": images, "labels": labels, "ids": labels + 100}
    out_data = make_layer(3)(data)
    assert sorted(out_data) == ["ids", "images", "labels"]
    np.testing.assert_array_equal(np.asarray(out_data["images"]), first)
    np.testing.assert_array_equal(np.asarray(out_data["labels"]), labels)
    np.testing.assert_array_equal(np.asarray(out_data["ids"]), labels + 100)
    one = layer({"images": images[0], "labels": labels[0]})
    assert tuple(one["images"].shape) == shape and int(one["labels"]) == 0
    for x in _as_dataset(images, labels).batch(len(images)).map(layer):
        assert tuple(x["images"].shape) == batch
        np.testing.assert_array_equal(x["labels"].numpy(), labels)
    if shape == images.shape[1:]:
        kept = layer({"images": images, "labels": labels}, training=False)
        np.testing.assert_array_equal(np.asarray(kept["images"]), images)

    _assert_registered(layer)
    return out


def assert_label_mixing_contract(make_layer, images, num_classes):
    """Check the shared contract of a label-mixing layer (CutMix, MixUp).

    - `{"images", "labels"}` with integer labels gives float32 images of the
      same shape and one-hot `(B, num_classes)` labels whose rows sum to 1;
      one-hot labels give the same result; other entries pass through;
    - images alone are mixed exactly as in the dict (the labels do not
      change the draws);
    - `training=False`: images unchanged, labels one-hot;
    - it runs in `tf.data` on dict batches; equal seeds give equal outputs,
      different seeds different ones; the config round trip holds.

    Args:
        make_layer: `(seed, num_classes) -> layer`.
        images: A numpy batch `(B, H, W, C)` of distinct images.
        num_classes: Number of classes; labels are `arange(B) % num_classes`.

    Returns:
        The training output dict of `make_layer(7, num_classes)`.
    """
    labels = np.arange(len(images)) % num_classes
    one_hot = np.eye(num_classes, dtype="float32")[labels]
    layer = make_layer(7, num_classes)
    out = layer({"images": images, "labels": labels, "ids": labels + 100})
    assert sorted(out) == ["ids", "images", "labels"]
    assert tuple(out["images"].shape) == images.shape
    assert out["images"].dtype == "float32"
    assert tuple(out["labels"].shape) == (len(images), num_classes)
    np.testing.assert_allclose(np.asarray(out["labels"]).sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(out["ids"]), labels + 100)

    def run(seed, data):
        return make_layer(seed, num_classes)(data)

    mixed = run(3, {"images": images, "labels": labels})
    same = run(3, {"images": images, "labels": one_hot})
    alone = run(3, images)
    for key in ("images", "labels"):
        np.testing.assert_allclose(np.asarray(same[key]), np.asarray(mixed[key]))
    np.testing.assert_array_equal(np.asarray(alone), np.asarray(mixed["images"]))
    again = run(3, {"images": images, "labels": labels})["labels"]
    np.testing.assert_array_equal(np.asarray(again), np.asarray(mixed["labels"]))
    other = run(4, {"images": images, "labels": labels})["labels"]
    assert not np.array_equal(np.asarray(other), np.asarray(mixed["labels"]))

    kept = layer({"images": images, "labels": labels}, training=False)
    np.testing.assert_array_equal(np.asarray(kept["images"]), images)
    np.testing.assert_array_equal(np.asarray(kept["labels"]), one_hot)

    for x in _as_dataset(images, labels).batch(len(images)).map(layer):
        assert tuple(x["images"].shape) == images.shape
        assert tuple(x["labels"].shape) == (len(images), num_classes)
    _assert_registered(layer)
    return out
