"""Indexable example sets: in-memory arrays, image files, or a TFDS split.

An `Items` object knows the labels of its examples (-1 when unlabelled) and
builds `tf.data` pipelines of model-ready images, or of encoded images for the
serving path. Splits and label budgets select by index with `subset`.

Files are read again whenever a pipeline reaches them, and may have changed
since the scan: each read re-checks the header's pixel limit before
decoding, and a file that is now over it, no longer decodes or is gone
becomes a *skipped* example (`is_skipped`: its image is NaN) that
`kzoo.data.batched` drops from its batch, recorded once in a `SkipLog`.
`Indexed` reads examples by index, so a pipeline that does not cache them
can shuffle indices and read only what it batches.
"""

import os
import sys
import threading

import numpy as np
import tensorflow as tf

from kzoo.data import images

AUTOTUNE = tf.data.AUTOTUNE
CHANGED = "it changed after the data scan; skipped"
_INDEXED = "_kzoo_indexed"  # the attribute of a dataset that holds its `Indexed`


def display_path(path):
    """`path` (str or bytes) as printable text: bytes that are not UTF-8 (a
    name the file system holds but no text encodes) as `\\xNN` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def path_bytes(paths):
    """The file system's bytes of each path, what TensorFlow reads (a str
    with a non-UTF-8 name, decoded by Python with surrogate escapes, cannot
    be converted to a `tf.string`)."""
    return [os.fsencode(p) for p in paths]


def is_skipped(images_batch):
    """bool `[N]`: which images of a `[N, H, W, C]` batch stand for a skipped
    example (NaN pixels; a decoded image never holds NaN)."""
    return tf.math.is_nan(images_batch[:, 0, 0, 0])


class SkipLog:
    """The files a pipeline skipped when it read them again, each warned
    about once (on stderr) and recorded in `files` and `reasons`.

    Args:
        files: List the display paths are appended to (e.g. a
            `DataSplits.skipped_files`).
        reasons: Dict `{display path: reason}` (e.g. `skipped_reasons`).
    """

    def __init__(self, files=None, reasons=None):
        self.files = [] if files is None else files
        self.reasons = {} if reasons is None else reasons
        self._lock = threading.Lock()

    def record(self, path, reason):
        """Record a file (str or bytes) the first time it is skipped."""
        shown = display_path(path)
        with self._lock:
            if shown in self.reasons:
                return
            self.reasons[shown] = reason
            self.files.append(shown)
        print(f"warning: {shown}: {reason} ({CHANGED})", file=sys.stderr,
              flush=True)

    def skipped_image(self, path, declared, shape, max_pixels):
        """Graph: record `path` (refused for its `declared` size, or not
        decodable) and return the NaN image of a skipped example."""

        def record(path, height, width):
            self.record(path.numpy(), _refusal(int(height), int(width), max_pixels))
            return True

        done = tf.py_function(record, [path, declared[0], declared[1]], tf.bool)
        with tf.control_dependencies([done]):
            return tf.fill(shape, float("nan"))


class Indexed:
    """Examples read one at a time by index.

    What lets a pipeline that does not cache its examples shuffle indices
    over the whole set and read (decode) only what it batches.

    Args:
        count: Number of examples.
        read: Graph function `index -> example`; it may raise (a file gone
            or no longer decodable) or return a skipped example.
        fallback: Graph function `index -> skipped example` that stands in
            for one whose `read` raised; None when `read` never raises.
    """

    def __init__(self, count, read, fallback=None):
        self.count = int(count)
        self.read = read
        self.fallback = fallback

    def examples(self, order=None):
        """Every example once, in the order `order` gives (a graph function
        `position -> index`, vectorised; positions 0, 1, ... when None),
        read in parallel; one an index, its fallback where `read` raised.

        Reads that raise are dropped (`ignore_errors`: nothing per example
        but the read) and the gaps they leave are refilled with fallbacks
        in place, so the count and every position are kept.
        """
        order = order or _identity
        positions = tf.data.Dataset.range(self.count)
        if self.fallback is None:
            return positions.map(lambda k: self.read(order(k)),
                                 num_parallel_calls=AUTOTUNE)
        ds = positions.map(lambda k: (k, self.read(order(k))),
                           num_parallel_calls=AUTOTUNE)
        spec = ds.element_spec[1]
        # A last position `count` (never emitted) closes a gap at the end.
        end = tf.data.Dataset.from_tensors(
            (tf.constant(self.count, tf.int64), _zeros(spec)))
        ds = ds.ignore_errors().concatenate(end).scan(
            tf.constant(-1, tf.int64), lambda last, x: (x[0], (last, *x)))

        def refill(last, k, example):
            missing = tf.range(last + 1, k)
            fallbacks = tf.cond(
                k > last + 1,
                lambda: tf.map_fn(lambda m: self.fallback(order(m)), missing,
                                  fn_output_signature=spec),
                lambda: _zeros(spec, 0))
            read = tf.data.Dataset.from_tensors(example).take(
                tf.cast(k < self.count, tf.int64))
            return tf.data.Dataset.from_tensor_slices(fallbacks).concatenate(read)

        ds = ds.flat_map(refill)
        return ds.apply(tf.data.experimental.assert_cardinality(self.count))

    def map(self, fn, sources=None):
        """`Indexed` of `fn(source index, example)` for each index of
        `sources` (int `[M]`, into these examples; all when None)."""
        if sources is None:
            def at(i):
                return i
            count = self.count
        else:
            table = tf.constant(np.asarray(sources, np.int64))

            def at(i):
                return tf.gather(table, i)
            count = len(sources)

        def read(i):
            j = at(i)
            return fn(j, self.read(j))

        fallback = None
        if self.fallback is not None:
            def fallback(i):
                j = at(i)
                return fn(j, self.fallback(j))

        return Indexed(count, read, fallback)

    def attach(self, dataset):
        """`dataset` (these examples, in index order), marked as readable by
        index (see `indexed`)."""
        setattr(dataset, _INDEXED, self)
        return dataset


def _identity(k):
    return k


def _zeros(spec, batch=None):
    """Zeros of a structure of `TensorSpec`s (unknown sizes 0), with a
    leading dimension `batch` unless None."""
    def zeros(s):
        shape = [d or 0 for d in s.shape]
        return tf.zeros(shape if batch is None else [batch, *shape], s.dtype)
    return tf.nest.map_structure(zeros, spec)


def indexed(dataset):
    """The `Indexed` a dataset was built from, or None (a dataset transformed
    since, a TFDS split, ...)."""
    return getattr(dataset, _INDEXED, None)


class ArrayItems:
    """Images held in memory as uint8 `[N, H, W, C]`."""

    def __init__(self, pixels, labels):
        self.pixels = pixels
        self.labels = np.asarray(labels, dtype=np.int32)

    def __len__(self):
        return len(self.labels)

    def subset(self, indices):
        return ArrayItems(self.pixels[indices], self.labels[indices])

    def dataset(self, size, channels, skips=None):
        ds = tf.data.Dataset.from_tensor_slices((self.pixels, self.labels))
        ds = ds.map(
            lambda x, y: (images.to_model_input(x, size, channels), y),
            num_parallel_calls=AUTOTUNE,
        )
        pixels, labels = self.pixels, self.labels

        def read(i):
            x = tf.gather(tf.constant(pixels), i)
            return images.to_model_input(x, size, channels), tf.gather(labels, i)

        return Indexed(len(self), read).attach(ds)

    def encoded(self):
        ds = tf.data.Dataset.from_tensor_slices((self.pixels, self.labels))
        return ds.map(lambda x, y: (images.encode_png(x), y))


class _EncodedItems:
    """Items whose `encoded()` yields `(image bytes, label)`; decoded on the fly."""

    def dataset(self, size, channels, skips=None):
        return self.encoded().map(
            lambda x, y: (images.decode_to_model_input(x, size, channels), y),
            num_parallel_calls=AUTOTUNE,
        )


class FileItems(_EncodedItems):
    """Image files; only files that decode should be put in here.

    `dataset` reads each file when the pipeline reaches it and checks it
    again: a file whose header now declares more than `max_image_pixels`
    (not decoded), that no longer decodes or is gone is a skipped example,
    recorded in `skips`.
    """

    def __init__(self, paths, labels, max_image_pixels=images.MAX_IMAGE_PIXELS):
        self.paths = np.asarray(paths, dtype=object).astype(str)
        self.labels = np.asarray(labels, dtype=np.int32)
        self.max_image_pixels = images.check_max_pixels(max_image_pixels)

    def __len__(self):
        return len(self.labels)

    def subset(self, indices):
        return FileItems(self.paths[indices], self.labels[indices],
                         self.max_image_pixels)

    def concatenate(self, other):
        return FileItems(
            np.concatenate([self.paths, other.paths]),
            np.concatenate([self.labels, other.labels]),
            self.max_image_pixels,
        )

    def dataset(self, size, channels, skips=None):
        reader = self.indexed(size, channels, skips)
        return reader.attach(reader.examples().with_options(_IGNORE_STATE))

    def indexed(self, size, channels, skips=None):
        """`Indexed` model-ready `(image, label)` examples of the files."""
        skips = SkipLog() if skips is None else skips
        shape = [*size, channels]
        limit = self.max_image_pixels
        paths = tf.constant(path_bytes(self.paths), tf.string)
        labels = tf.constant(self.labels)

        def read(i):
            path = tf.gather(paths, i)
            encoded = tf.io.read_file(path)
            declared = images.declared_size(encoded)
            image = tf.cond(
                images.within_pixel_limit(declared, limit),
                lambda: images.decode_to_model_input(encoded, size, channels),
                lambda: skips.skipped_image(path, declared, shape, limit))
            return tf.ensure_shape(image, shape), tf.gather(labels, i)

        def fallback(i):
            unknown = tf.constant([-1, -1], tf.int64)
            image = skips.skipped_image(tf.gather(paths, i), unknown, shape, limit)
            return tf.ensure_shape(image, shape), tf.gather(labels, i)

        return Indexed(len(self), read, fallback)

    def encoded(self):
        paths = tf.constant(path_bytes(self.paths), tf.string)
        ds = tf.data.Dataset.from_tensor_slices((paths, self.labels))
        return ds.map(lambda p, y: (tf.io.read_file(p), y), num_parallel_calls=AUTOTUNE)


# A skipped file is recorded by a Python function inside the pipeline; under
# a tf.distribute strategy the dataset graph is copied within this process,
# where that function lives, so its "external state" needs no warning.
_IGNORE_STATE = tf.data.Options()
_IGNORE_STATE.experimental_external_state_policy = (
    tf.data.experimental.ExternalStatePolicy.IGNORE)


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

    The reasons of `scan_image_files` (see there).
    """
    return scan_image_files(paths, max_image_pixels)[0]


def scan_image_files(paths, max_image_pixels=images.MAX_IMAGE_PIXELS):
    """Why each file cannot be used as an image, and the channels it decodes to.

    Two passes. The first reads each file's first `HEAD_BYTES` and its
    header (`images.declared_size`, `SCAN_BATCH` files a call); a file
    declaring more than `max_image_pixels` is refused without being
    decoded. The second decodes the others in one parallel `tf.data` pass
    with the decoder the pipelines use, so corrupt, truncated, non-image
    and oversized files are all found before any batching; the channel
    count of each decoded image (1 grey, 2 grey with alpha, 3 RGB, 4 RGBA,
    as `images.decode` gives it) comes with it at no extra cost.

    Args:
        paths: File paths (regular files: a named pipe would block the read).
        max_image_pixels: The most pixels (height * width) an image may have.

    Returns:
        `(reasons, channels)`: a list, one entry a path (None,
        `images.NOT_DECODABLE` or an `images.OVER_PIXEL_LIMIT` line), and
        an int array of the channels each file decodes to (0 where it has
        a reason).
    """
    paths = list(paths)
    declared = declared_sizes(paths)
    within = images.within_pixel_limit(tf.constant(declared.reshape(-1, 2)),
                                       max_image_pixels).numpy()
    # What the headers let through must also decode: not yet known.
    reasons = [images.NOT_DECODABLE if ok
               else _refusal(height, width, max_image_pixels)
               for (height, width), ok in zip(declared, within)]
    channels = np.zeros(len(paths), np.int32)
    candidates = np.flatnonzero(within)
    if not len(candidates):
        return reasons, channels
    ds = tf.data.Dataset.from_tensor_slices(
        (candidates, tf.constant(path_bytes([paths[i] for i in candidates]), tf.string)))
    ds = ds.map(lambda i, path: (i, tf.shape(images.decode(tf.io.read_file(path)))[-1]),
                num_parallel_calls=AUTOTUNE).ignore_errors()  # failed decodes
    # Read back in batches: element by element, the Python loop cost as
    # much as the decoding (load_data on 30k PNGs: 12.8 s read back one file
    # at a time, 6.0 s in batches of 1,024; benchmarks/bench_load_data.py).
    for index, decoded in ds.batch(SCAN_BATCH).as_numpy_iterator():
        channels[index] = decoded
        for i in index:
            reasons[i] = None
    return reasons, channels


def typical_size(part, sample=64):
    """The median longer side, in pixels, of a part's own images (before
    any resizing), from at most `sample` of them evenly spread; None where
    unknown (a TFDS split, no image header kzoo reads).

    Files are measured from their headers (`declared_sizes`), not decoded.
    """
    if isinstance(part, ArrayItems):
        return int(max(part.pixels.shape[1:3])) if len(part.pixels) else None
    if not isinstance(part, FileItems) or not len(part.paths):
        return None
    picks = np.unique(np.linspace(0, len(part.paths) - 1, sample).astype(int))
    sides = declared_sizes(list(part.paths[picks])).max(axis=1)
    sides = sides[sides > 0]
    return int(np.median(sides)) if len(sides) else None


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
            sizes[i] = images.declared_size(
                tf.io.read_file(os.fsencode(paths[i]))).numpy()
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
