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


SCAN_BATCH = 1024


def scan_images(paths, max_image_pixels=images.MAX_IMAGE_PIXELS):
    """Why each file cannot be used as an image: a reason, or None if it can.

    Runs one parallel `tf.data` pass. Each file's header is read first
    (`images.declared_size`); a file declaring more than `max_image_pixels`
    is refused without being decoded, the others are decoded by the decoder
    the pipelines use, so corrupt, truncated, non-image and oversized files
    are all found before any batching.

    Args:
        paths: File paths (regular files: a named pipe would block the read).
        max_image_pixels: The most pixels (height * width) an image may have.

    Returns:
        A list, one entry a path: None, `images.NOT_DECODABLE` or an
        `images.OVER_PIXEL_LIMIT` line.
    """
    paths = list(paths)
    reasons = [images.NOT_DECODABLE] * len(paths)
    if not paths:
        return reasons
    ds = tf.data.Dataset.from_tensor_slices((tf.range(len(paths)), paths))
    ds = ds.map(
        lambda i, p: (i, *_checked_size(tf.io.read_file(p), max_image_pixels)),
        num_parallel_calls=AUTOTUNE,
    ).ignore_errors()  # unreadable files and failed decodes drop out
    # Read back in batches: element by element, the Python loop cost as
    # much as the decoding (load_data on 30k PNGs: 12.8 s read back one file
    # at a time, 6.0 s in batches of 1,024; benchmarks/bench_load_data.py).
    for index, sizes, oks in ds.batch(SCAN_BATCH).as_numpy_iterator():
        for i, (height, width), ok in zip(index, sizes, oks):
            reasons[i] = None if ok else _refusal(height, width, max_image_pixels)
    return reasons


def decodable(paths, max_image_pixels=images.MAX_IMAGE_PIXELS):
    """Boolean mask of the files `scan_images` accepts."""
    return np.array([r is None for r in scan_images(paths, max_image_pixels)],
                    dtype=bool)


def _checked_size(encoded, max_pixels):
    """`(size, ok)`: the decoded size if the header is within the limit, else
    the declared size; fails (and drops out) if the decode fails."""
    declared = images.declared_size(encoded)
    ok = images.within_pixel_limit(declared, max_pixels)
    size = tf.cond(
        ok,
        lambda: tf.shape(images.decode(encoded), out_type=tf.int64)[:2],
        lambda: declared,
    )
    return size, ok


def _refusal(height, width, max_pixels):
    if height <= 0 or width <= 0:
        return images.NOT_DECODABLE
    return images.OVER_PIXEL_LIMIT.format(height, width, max_pixels)
