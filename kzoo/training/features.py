"""A frozen backbone's features, computed once, and the head that trains on
them.

With the backbone frozen (BatchNorm in inference mode, no augmentation),
every pass of a head-only training computes the same backbone outputs for
the same images. Computing them once and training the head on the cached
vectors gives the same head (the same batches in the same order: the
training stream's order depends on the seed and the number of examples
only) at the cost of one forward pass per image instead of one per image
per epoch: on a CPU, the backbone is nearly all of the cost.
"""

import keras
import numpy as np
import tensorflow as tf

from kzoo.data.items import is_skipped


def backbone_features(backbone, dataset, batch_size=64):
    """The backbone's outputs for every example of `dataset`, in order.

    Args:
        backbone: A `keras.Model` from images to feature vectors, run in
            inference mode.
        dataset: An unbatched `(image, label)` `tf.data.Dataset`. A skipped
            example (NaN pixels, see `kzoo.data.items.is_skipped`) is left
            out, with its label.
        batch_size: Images per forward pass.

    Returns:
        `(features, labels)`: float32 `[N, ...]` and the labels `[N, ...]`,
        NumPy arrays.
    """
    forward = tf.function(lambda x: backbone(x, training=False),
                          reduce_retracing=True)
    features, labels = [], []
    for x, y in dataset.batch(batch_size):
        keep = tf.logical_not(is_skipped(x))
        if not bool(tf.reduce_all(keep)):
            x, y = tf.boolean_mask(x, keep), tf.boolean_mask(y, keep)
        if int(tf.shape(x)[0]):
            features.append(np.asarray(forward(x), dtype=np.float32))
            labels.append(np.asarray(y))
    if not features:
        shape = tuple(backbone.output.shape[1:])
        return np.zeros((0, *shape), np.float32), np.zeros((0,), np.int32)
    return np.concatenate(features), np.concatenate(labels)


def features_dataset(features, labels):
    """An unbatched `(features, label)` dataset of cached features."""
    return tf.data.Dataset.from_tensor_slices((features, labels))


def head_of(model, backbone="backbone"):
    """The layers after `model`'s `backbone` layer as a model on its
    features: the same layer objects, so training the head trains
    `model`'s head.

    Args:
        model: A functional model whose layers after `backbone` form a
            chain (a `kzoo.training.transfer_model`: `head_dropout`,
            `predictions`).
        backbone: The name of the nested backbone layer.

    Returns:
        A `keras.Model` from `features` (the backbone's output shape) to
        `model`'s outputs.
    """
    layers = model.layers
    start = [layer.name for layer in layers].index(backbone)
    features = keras.Input(tuple(layers[start].output.shape[1:]),
                           name="features")
    x = features
    for layer in layers[start + 1:]:
        x = layer(x)
    return keras.Model(features, x, name=f"{model.name}_head")
