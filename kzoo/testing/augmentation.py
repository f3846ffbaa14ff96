"""Behaviour every per-image augmentation layer must show."""

import keras
import numpy as np
import tensorflow as tf


def assert_augmentation_contract(make_layer, images, output_shape=None):
    """Check the shared contract of an `ImageAugmentation` layer.

    - `training=False` returns the input (or its central crop, for layers
      that change size);
    - training output keeps batch/unbatched shape (or `output_shape`) and dtype;
    - it runs inside `tf.data.Dataset.map`, on batches and on single images;
    - equal seeds give equal outputs, different seeds different ones;
    - `get_config` / `from_config` rebuilds an equal layer.

    Args:
        make_layer: `seed -> layer`.
        images: A numpy batch `(B, H, W, C)`.
        output_shape: Expected per-image output shape, default the input's.
    """
    shape = tuple(output_shape or images.shape[1:])
    layer = make_layer(7)
    if shape == images.shape[1:]:
        np.testing.assert_array_equal(np.asarray(layer(images, training=False)), images)

    out = layer(images)
    assert tuple(out.shape) == (len(images),) + shape
    assert out.dtype == tf.as_dtype(images.dtype)
    single = layer(images[0])
    assert tuple(single.shape) == shape

    ds = tf.data.Dataset.from_tensor_slices(images)
    for batch in ds.batch(len(images)).map(layer):
        assert tuple(batch.shape) == (len(images),) + shape
    for image in ds.map(layer).take(1):
        assert tuple(image.shape) == shape

    first = np.asarray(make_layer(3)(images))
    np.testing.assert_array_equal(first, np.asarray(make_layer(3)(images)))
    assert not np.array_equal(first, np.asarray(make_layer(4)(images)))

    rebuilt = type(layer).from_config(layer.get_config())
    assert rebuilt.get_config() == layer.get_config()
    assert keras.saving.get_registered_object(
        keras.saving.get_registered_name(type(layer))
    ) is type(layer)
    return out
