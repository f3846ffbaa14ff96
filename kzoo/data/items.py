"""Indexable example sets: in-memory arrays, image files, or a TFDS split.

An `Items` object knows the labels of its examples (-1 when unlabelled) and
builds `tf.data` pipelines of model-ready images, or of encoded images for the
serving path. Splits and label budgets select by index with `subset`.
"""

import numpy as np
import tensorflow as tf

from kzoo.data import images

AUTOTUNE = tf.data.AUTOTUNE


class ArrayItems:
    """Images held in memory as uint8 `[N, H, W, C]`."""

    def __init__(self, pixels, labels):
        self.pixels = pixels
        self.labels = np.asarray(labels, dtype=np.int32)

    def __len__(self):
        return len(self.labels)

    def subset(self, indices):
        return ArrayItems(self.pixels[indices], self.labels[indices])

    def dataset(self, size, channels):
        ds = tf.data.Dataset.from_tensor_slices((self.pixels, self.labels))
        return ds.map(
            lambda x, y: (images.to_model_input(x, size, channels), y),
            num_parallel_calls=AUTOTUNE,
        )

    def encoded(self):
        ds = tf.data.Dataset.from_tensor_slices((self.pixels, self.labels))
        return ds.map(lambda x, y: (images.encode_png(x), y))


class _EncodedItems:
    """Items whose `encoded()` yields `(image bytes, label)`; decoded on the fly."""

    def dataset(self, size, channels):
        return self.encoded().map(
            lambda x, y: (images.decode_to_model_input(x, size, channels), y),
            num_parallel_calls=AUTOTUNE,
        )


class FileItems(_EncodedItems):
    """Image files; only files that decode should be put in here."""

    def __init__(self, paths, labels):
        self.paths = np.asarray(paths, dtype=object).astype(str)
        self.labels = np.asarray(labels, dtype=np.int32)

    def __len__(self):
        return len(self.labels)

    def subset(self, indices):
        return FileItems(self.paths[indices], self.labels[indices])

    def concatenate(self, other):
        return FileItems(
            np.concatenate([self.paths, other.paths]),
            np.concatenate([self.labels, other.labels]),
        )

    def encoded(self):
        ds = tf.data.Dataset.from_tensor_slices((self.paths, self.labels))
        return ds.map(lambda p, y: (tf.io.read_file(p), y), num_parallel_calls=AUTOTUNE)


class TfdsItems(_EncodedItems):
    """Examples of one TFDS split, streamed and selected by index.

    Images stay encoded (`tfds.decode.SkipDecoding`) until the pipeline
    decodes them, so selection never decodes or holds the whole split.
    """

    def __init__(self, load_encoded, indices, labels):
        self._load_encoded = load_encoded  # () -> Dataset of (bytes, label)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int32)

    def __len__(self):
        return len(self.labels)

    def subset(self, indices):
        return TfdsItems(self._load_encoded, self.indices[indices], self.labels[indices])

    def encoded(self):
        keys = tf.constant(self.indices, dtype=tf.int64)
        table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(keys, tf.ones_like(keys)), 0
        )
        ds = self._load_encoded().enumerate()
        ds = ds.filter(lambda i, example: table.lookup(i) > 0)
        return ds.map(lambda i, example: example)


def decodable(paths):
    """Boolean mask of the files TensorFlow can decode as images.

    Runs one parallel `tf.data` pass (the same decoder the pipelines use), so
    corrupt, truncated and non-image files are found before any batching.
    """
    paths = list(paths)
    if not paths:
        return np.zeros(0, dtype=bool)
    ds = tf.data.Dataset.from_tensor_slices((tf.range(len(paths)), paths))
    ds = ds.map(
        lambda i, p: (i, tf.shape(images.decode(tf.io.read_file(p)))),
        num_parallel_calls=AUTOTUNE,
    ).ignore_errors()
    mask = np.zeros(len(paths), dtype=bool)
    for i, _ in ds.as_numpy_iterator():
        mask[i] = True
    return mask
