"""The images a label-selection or self-supervised run reads: `image_pool`.

`kzoo pretrain` and `kzoo select` take any folder of images, flat or nested
(every image under it, at any depth), or a kzoo data folder
(`DIR/unlabeled/**`, and `DIR/train/<class>/*` once some are labelled):
then the candidates are the unlabelled images and `train/` holds the ones
already labelled (its labels are not read by the selection; `test/` and
`val/` are never touched). A data spec of `load_data` that is not a folder (`digits`,
`tfds:NAME`) gives its training images after the test hold-out, with
their labels hidden. Every file goes through the scan of the other
commands (`FileScan`: pixel limit, special files, undecodable files), and
what it skips is reported.
"""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from kzoo.data import images, items, sources, splits
from kzoo.data.loader import TEST_SPLIT_SEED, resolve_source
from kzoo.errors import DataError


@dataclasses.dataclass
class ImagePool:
    """What `image_pool` returns.

    Attributes:
        name: The data's name (the folder's base name, `digits`, ...).
        items: The candidates (`FileItems` or `ArrayItems`), in a stable
            order: files sorted by path.
        labeled: The images already labelled (a data folder's `train/`),
            or None.
        channels: 1 when every image is grey, else 3.
        skipped_reasons: `{path: reason}` of the files the scan skipped.
        hidden_labels: int `[N]` true labels of the candidates where the
            source has them (-1 elsewhere; never used to select).
        layout: `"folder"`, `"data folder"` or `"dataset"`.
    """

    name: str
    items: object
    labeled: object
    channels: int
    skipped_reasons: dict
    hidden_labels: np.ndarray
    layout: str

    @property
    def paths(self):
        """Display paths of the candidates (None for in-memory images)."""
        paths = getattr(self.items, "paths", None)
        return None if paths is None else [items.display_path(p) for p in paths]

    def __len__(self):
        return len(self.items)

    def dataset(self, size, channels, part="pool"):
        """Unbatched `(image, index)`: each candidate (`part="pool"`) or
        labelled image (`"labeled"`) with its index, read when the pipeline
        reaches it; a file that fails then is a skipped (NaN) image
        (`items.is_skipped`), logged in `skipped_reasons`."""
        source = self.items if part == "pool" else self.labeled
        skips = items.SkipLog(list(self.skipped_reasons), self.skipped_reasons)
        data = source.dataset(tuple(size), channels, skips)
        index = tf.data.Dataset.range(len(source))
        return tf.data.Dataset.zip(data, index).map(lambda xy, i: (xy[0], i))


def is_data_folder(path):
    """Whether `path` is a kzoo data folder (has `train/` or an unlabelled
    folder) rather than a plain folder of images."""
    return os.path.isdir(path) and any(
        os.path.isdir(os.path.join(path, d))
        for d in ("train", *sources.UNLABELED_DIRS))


def image_pool(spec, max_image_pixels=images.MAX_IMAGE_PIXELS,
               need_unlabeled=False):
    """The candidates of `spec` (see the module docstring).

    Args:
        spec: A folder, or a `load_data` spec.
        max_image_pixels: The scan's pixel limit.
        need_unlabeled: A data folder must have an unlabelled folder (what
            `kzoo select` picks from); else its `train/` images are
            candidates too.

    Raises:
        DataError: Nothing there, no image in it, a data folder without
            its unlabelled images when they are needed.
    """
    images.check_max_pixels(max_image_pixels)
    if isinstance(spec, str) and os.path.isdir(spec):
        if is_data_folder(spec):
            return _data_folder(spec, max_image_pixels, need_unlabeled)
        return _plain_folder(spec, max_image_pixels)
    if isinstance(spec, str) and os.path.lexists(spec):
        raise DataError(f"Expected a folder of images or a data spec. "
                        f"Received: data={spec!r} (a file)")
    parts = resolve_source(spec, max_image_pixels=max_image_pixels)
    train = parts.train
    if parts.test is None:
        train = train.subset(splits.stratified_split(
            train.labels, 0.2, TEST_SPLIT_SEED)[0])
    return ImagePool(parts.name, train, None, parts.channels, {},
                     np.asarray(train.labels, np.int32), "dataset")


def _plain_folder(root, max_image_pixels, scanned=None, layout="folder"):
    """Every image below `scanned` (default `root`), unlabelled."""
    scan = sources.FileScan(max_image_pixels)
    paths = scan.files_below(scanned or root, on_unreadable=scan.skip_folder)
    kept = np.asarray(paths, dtype=object)[scan.images(paths)] if paths else []
    if not len(kept):
        raise DataError(f"No images found under {root} (searched at any depth; "
                        f"{len(scan.skipped)} files skipped). Received: "
                        f"data={root!r}")
    pool = items.FileItems(np.asarray(kept, dtype=object),
                           np.full(len(kept), -1), scan.max_image_pixels)
    return ImagePool(_name(root), pool, None, scan.channels(), dict(scan.skipped),
                     np.full(len(kept), -1, np.int32), layout)


def _data_folder(root, max_image_pixels, need_unlabeled):
    if not os.path.isdir(os.path.join(root, "train")):
        # Nothing labelled yet (the start of kzoo select -> kzoo label):
        # the pool is the unlabelled folder; test/ and val/ stay untouched.
        unlabeled = sources.unlabeled_dir(root)
        if unlabeled is not None:
            return _plain_folder(root, max_image_pixels, unlabeled, "data folder")
    parts = sources.folder_source(root, max_image_pixels)
    if need_unlabeled and (parts.unlabeled is None or not len(parts.unlabeled)):
        raise DataError(
            f"Data folder {root} has no unlabelled images to choose from: "
            "expected them under DIR/unlabeled/ (any depth), or pass a plain "
            f"folder of images. Received: data={root!r}")
    if need_unlabeled:
        pool, labeled = parts.unlabeled, parts.train
    else:
        pool = parts.train if parts.unlabeled is None else (
            parts.train.concatenate(parts.unlabeled))
        labeled = None
    return ImagePool(parts.name, pool, labeled, parts.channels,
                     dict(parts.skipped_reasons),
                     np.full(len(pool), -1, np.int32), "data folder")


def _name(root):
    return os.path.basename(os.path.abspath(root).rstrip(os.sep)) or "images"
