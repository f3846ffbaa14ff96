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


SCAN_BATCH = 1024  # files a header read, and results a read back
# The bytes read for a header. PNG, GIF, BMP and WebP headers are in the
# first 30; a JPEG's frame header follows its APPn segments (EXIF, ICC),
# usually within a few KB; one not found within these is looked for in the
# whole file.
HEAD_BYTES = 2**16


def scan_images(paths, max_image_pixels=images.MAX_IMAGE_PIXELS):
    """Why each file cannot be used as an image: a reason, or None if it can.

    Two passes. The first reads each file's first `HEAD_BYTES` and its
    header (`images.declared_size`, `SCAN_BATCH` files a call); a file
    declaring more than `max_image_pixels` is refused without being
    decoded. The second decodes the others in one parallel `tf.data` pass
    with the decoder the pipelines use, so corrupt, truncated, non-image
    and oversized files are all found before any batching.

    Args:
        paths: File paths (regular files: a named pipe would block the read).
        max_image_pixels: The most pixels (height * width) an image may have.

    Returns:
        A list, one entry a path: None, `images.NOT_DECODABLE` or an
        `images.OVER_PIXEL_LIMIT` line.
    """
    paths = list(paths)
    declared = declared_sizes(paths)
    within = images.within_pixel_limit(tf.constant(declared.reshape(-1, 2)),
                                       max_image_pixels).numpy()
    # What the headers let through must also decode: not yet known.
    reasons = [images.NOT_DECODABLE if ok
               else _refusal(height, width, max_image_pixels)
               for (height, width), ok in zip(declared, within)]
    candidates = np.flatnonzero(within)
    if not len(candidates):
        return reasons
    ds = tf.data.Dataset.from_tensor_slices(
        (candidates, np.asarray(paths, dtype=object)[candidates].astype(str)))
    ds = ds.map(lambda i, path: (i, tf.shape(images.decode(tf.io.read_file(path)))),
                num_parallel_calls=AUTOTUNE).ignore_errors()  # failed decodes
    # Read back in batches: element by element, the Python loop cost as
    # much as the decoding (load_data on 30k PNGs: 12.8 s read back one file
    # at a time, 6.0 s in batches of 1,024; benchmarks/bench_load_data.py).
    for index, _ in ds.batch(SCAN_BATCH).as_numpy_iterator():
        for i in index:
            reasons[i] = None
    return reasons


def declared_sizes(paths):
    """`[N, 2]` int64 `(height, width)` the files' headers declare, `[-1,
    -1]` for a file that cannot be read or has no header kzoo knows.

    Reads `HEAD_BYTES` a file in Python (a whole-file read for each file
    cost as much as decoding a small PNG), `SCAN_BATCH` headers a call.
    """
    sizes = np.full((len(paths), 2), -1, np.int64)
    cut = np.zeros(len(paths), bool)  # files longer than their head, maybe
    for start in range(0, len(paths), SCAN_BATCH):
        heads = [_head(path) for path in paths[start:start + SCAN_BATCH]]
        end = start + len(heads)
        sizes[start:end] = _declared_size(tf.constant(heads, tf.string))
        cut[start:end] = [len(head) == HEAD_BYTES for head in heads]
    # A JPEG whose frame header lies beyond its first bytes: the whole file.
    for i in np.flatnonzero(cut & (sizes[:, 0] < 0)):
        try:
            sizes[i] = images.declared_size(tf.io.read_file(paths[i])).numpy()
        except tf.errors.OpError:
            pass
    return sizes


_declared_size = tf.function(images.declared_size,
                             input_signature=[tf.TensorSpec([None], tf.string)])


def _head(path):
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError:
        return b""


def decodable(paths, max_image_pixels=images.MAX_IMAGE_PIXELS):
    """Boolean mask of the files `scan_images` accepts."""
    return np.array([r is None for r in scan_images(paths, max_image_pixels)],
                    dtype=bool)


def _refusal(height, width, max_pixels):
    if height <= 0 or width <= 0:
        return images.NOT_DECODABLE
    return images.OVER_PIXEL_LIMIT.format(height, width, max_pixels)
