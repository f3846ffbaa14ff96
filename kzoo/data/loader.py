"""`load_data`: a data spec -> disjoint labelled/unlabelled/val/test splits."""

import dataclasses
import os

import numpy as np
import tensorflow as tf

from kzoo.data import images, items, sources, splits
from kzoo.errors import DataError

# The test hold-out (for sources without a test split) always uses this seed,
# so every run of a spec, whatever its --seed, is scored on the same images.
TEST_SPLIT_SEED = 0


@dataclasses.dataclass
class DataSplits:
    """What `load_data` returns. Datasets are unbatched `(image, label)`.

    Images are float32 `[height, width, channels]` in [0, 255]; the
    `unlabeled` dataset has label -1. Use `kzoo.data.batched` to batch.
    `unlabeled_labels` are the hidden true labels of the unlabelled pool, in
    its order (-1 where unknown, e.g. `unlabeled/` files): for measuring
    pseudo-label accuracy, never for training. `skipped_reasons` maps each
    of `skipped_files` to why it was skipped. Paths are printable text (a
    name that is not UTF-8 with `\\xNN` escapes, `items.display_path`).

    The file datasets read each file when they reach it and check it again
    (see `kzoo.data.items.FileItems`): a file that changed after the scan
    (now over the pixel limit, not decodable, or gone) is skipped by
    `kzoo.data.batched`, warned about once on stderr, and added to
    `skipped_files` and `skipped_reasons` as the run goes.
    """

    name: str
    class_names: list
    image_shape: tuple
    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    unlabeled: tf.data.Dataset
    counts: dict
    skipped_files: list
    test_items: object = dataclasses.field(repr=False, default=None)
    unlabeled_labels: np.ndarray = dataclasses.field(repr=False, default=None)
    skipped_reasons: dict = dataclasses.field(repr=False, default_factory=dict)

    @property
    def num_classes(self):
        return len(self.class_names)

    def test_encoded(self):
        """The test split as `(encoded image string, label)` for serving tests."""
        return self.test_items.encoded()


def resolve_source(spec, data_dir=None, download=False, class_names=None,
                   max_image_pixels=images.MAX_IMAGE_PIXELS):
    """Map a data spec to `SourceParts` (see `load_data` for the forms)."""
    if isinstance(spec, (tuple, dict)):
        return sources.array_source(spec, class_names)
    if not isinstance(spec, str):
        raise DataError(f"Unknown data spec type. Received: {type(spec).__name__}")
    if spec == "digits":
        return sources.digits_source()
    if spec.startswith("tfds:"):
        return sources.tfds_source(spec[5:], data_dir=data_dir, download=download)
    if os.path.isdir(spec):
        return sources.folder_source(spec, max_image_pixels)
    raise DataError(
        "Unknown data spec: expected 'digits', 'tfds:NAME' or an existing "
        f"folder. Received: {spec!r}"
    )


def load_data(
    spec="digits",
    image_size=(32, 32),
    channels=None,
    labels_per_class=None,
    label_fraction=None,
    val_fraction=0.1,
    test_fraction=0.2,
    seed=0,
    data_dir=None,
    download=False,
    class_names=None,
    classes=None,
    max_image_pixels=images.MAX_IMAGE_PIXELS,
):
    """Load a data spec into disjoint splits.

    Args:
        spec: `"digits"` (scikit-learn's bundled handwritten digits), a folder
            (`DIR/train/<class>/*`, optional `DIR/val`, `DIR/test`,
            `DIR/unlabeled/**`; or `DIR/<class>/*`), `"tfds:NAME"`, or
            in-memory arrays `(x, y)` / `{"train": (x, y), "test": ...}`.
        image_size: `(height, width)` the images are resized to.
        channels: 1 or 3; the source's own (digits 1, folders 3, TFDS from
            its features) when None.
        labels_per_class: Keep K labelled training images per class; the rest
            of the training split joins the unlabelled pool.
        label_fraction: Keep this fraction of each class labelled instead.
        val_fraction: Per-class fraction of the training split held out for
            validation when the source has no validation split (taken before
            the label budget); 0 for none.
        test_fraction: Per-class fraction held out for testing when the source
            has no test split (always with seed 0, the same for every run).
        seed: Seed of the validation split and the label budget.
        data_dir: TFDS data directory.
        download: Let TFDS download and prepare the dataset (off by default:
            nothing is fetched unless asked).
        class_names: Class names for array data.
        classes: Keep only these classes (names, e.g. `["5", "6"]`), relabelled
            0..k-1 in the given order; all when None.
        max_image_pixels: Files of a folder whose header declares more pixels
            (height * width) are skipped without being decoded.

    Returns:
        A `DataSplits`.

    Raises:
        DataError: Unknown spec, empty class folder, folder without images,
            unreadable train/val/test folder, fewer than 2 classes,
            impossible label budget, ...
    """
    images.check_max_pixels(max_image_pixels)
    parts = resolve_source(spec, data_dir, download, class_names, max_image_pixels)
    if classes is not None:
        parts = sources.select_classes(parts, classes)
    _check_two_classes(parts)
    channels = parts.channels if channels is None else channels
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 or 3. Received: channels={channels}")
    train, test = parts.train, parts.test
    if test is None:
        keep, held = splits.stratified_split(train.labels, test_fraction, TEST_SPLIT_SEED)
        train, test = train.subset(keep), train.subset(held)
    val = parts.val
    if val is None and val_fraction:
        keep, held = splits.stratified_split(train.labels, val_fraction, seed + 1)
        train, val = train.subset(keep), train.subset(held)
    labelled, rest = splits.label_budget(
        train.labels, parts.class_names, seed, labels_per_class, label_fraction
    )
    pool = train.subset(rest)
    size = tuple(int(s) for s in image_size)
    # Files skipped when a pipeline reads them again join the scan's.
    skipped_files = [items.display_path(p) for p in parts.skipped_files]
    skipped_reasons = {items.display_path(p): r
                       for p, r in parts.skipped_reasons.items()}
    skips = items.SkipLog(skipped_files, skipped_reasons)

    def make(part):
        return part.dataset(size, channels, skips) if part is not None else None

    unlabeled_parts = [p for p in (pool, parts.unlabeled) if p is not None and len(p)]
    unlabeled = _unlabeled(unlabeled_parts, make)
    counts = {
        "train": len(labelled),
        "val": len(val) if val is not None else 0,
        "test": len(test),
        "unlabeled": sum(len(p) for p in unlabeled_parts),
    }
    return DataSplits(
        name=parts.name,
        class_names=parts.class_names,
        image_shape=size + (channels,),
        train=make(train.subset(labelled)),
        val=make(val),
        test=make(test),
        unlabeled=unlabeled,
        counts=counts,
        skipped_files=skipped_files,
        skipped_reasons=skipped_reasons,
        test_items=test,
        unlabeled_labels=np.concatenate(
            [np.asarray(p.labels, np.int32) for p in unlabeled_parts]
            or [np.zeros(0, np.int32)]
        ),
    )


def _unlabeled(parts, make):
    """The pool: `parts`' images with label -1, in order; readable by index
    (see `kzoo.data.batched`) when its parts are files or arrays."""
    if len(parts) == 2 and all(isinstance(p, items.FileItems) for p in parts):
        parts = [parts[0].concatenate(parts[1])]  # one set of files
    pool = None
    for part in parts:
        ds = make(part)
        reader = items.indexed(ds)
        ds = ds.map(_label_unknown)
        if reader is not None and len(parts) == 1:
            reader.map(lambda i, example: _label_unknown(*example)).attach(ds)
        pool = ds if pool is None else pool.concatenate(ds)
    return pool


def _label_unknown(x, y):
    return x, tf.fill(tf.shape(y), -1)


def _check_two_classes(parts):
    """A one-class "classifier" would train and score 100%: refuse it."""
    present = [parts.class_names[i] for i in np.unique(parts.train.labels)
               if 0 <= i < len(parts.class_names)]
    if len(parts.class_names) < 2 or len(present) < 2:
        raise DataError(
            f"Data '{parts.name}' needs at least 2 classes with training images "
            "to train a classifier. Received: "
            f"class_names={parts.class_names}, classes with training images={present}"
        )
