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
    pseudo-label accuracy, never for training. `data_channels` is the
    source's own channel count (`image_shape[-1]` is what was asked for);
    `data_size` the typical longer side of its training images in pixels,
    before any resizing (None where unknown: a TFDS dataset).
    `val_fraction` is the share of each training class held out for
    validation, out of `val_pool` training images (None and 0 when the
    validation split is the source's own, or there is none). `skipped_reasons` maps each
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
    data_channels: int = None
    data_size: int = None
    val_fraction: float = None
    val_pool: int = 0

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
    labeled_indices=None,
):
    """Load a data spec into disjoint splits.

    Args:
        spec: `"digits"` (scikit-learn's bundled handwritten digits), a folder
            (`DIR/train/<class>/*`, optional `DIR/val`, `DIR/test`,
            `DIR/unlabeled/**`; or `DIR/<class>/*`), `"tfds:NAME"`, or
            in-memory arrays `(x, y)` / `{"train": (x, y), "test": ...}`.
        image_size: `(height, width)` the images are resized to.
        channels: 1 or 3; the source's own when None: digits 1, a folder 1
            when every image is grey (with or without alpha), else 3, TFDS
            and arrays from their shape.
        labels_per_class: Keep K labelled training images per class; the rest
            of the training split joins the unlabelled pool.
        label_fraction: Keep this fraction of each class labelled instead.
        val_fraction: Per-class fraction of the training split held out for
            validation when the source has no validation split (taken before
            the label budget; at least 1 image of a class of 2 or more); 0
            for none.
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
        labeled_indices: Keep exactly these images of the training split
            labelled (indices into it once the test and validation images
            are held out, in its order: what `load_data` without a budget
            gives as `train`); the rest join the unlabelled pool. For a
            selection (`kzoo.select`) of that split.

    Returns:
        A `DataSplits`.

    Raises:
        DataError: Unknown spec, empty class folder, folder without images,
            unreadable train/val/test folder, fewer than 2 classes,
            impossible label budget, ... A `splits.OptionError` for one
            about these arguments (`with_flags()` words it for `kzoo`).
    """
    images.check_max_pixels(max_image_pixels)
    splits.check_budget(labels_per_class, label_fraction)
    if labeled_indices is not None and (labels_per_class or label_fraction):
        raise splits.OptionError(lambda name: (
            f"Give {name('labeled_indices')} or a label budget, not both. "
            f"Received: {name('labels_per_class', labels_per_class)}, "
            f"{name('label_fraction', label_fraction)}"))
    _check_val_fraction(val_fraction)
    parts = resolve_source(spec, data_dir, download, class_names, max_image_pixels)
    if classes is not None:
        parts = sources.select_classes(parts, classes)
    _check_two_classes(parts)
    channels = parts.channels if channels is None else channels
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 or 3. Received: channels={channels}")
    train, test = parts.train, parts.test
    held = Held(parts.class_names, parts.train.labels)
    if test is None:
        keep, out = splits.stratified_split(train.labels, test_fraction, TEST_SPLIT_SEED)
        train, test = train.subset(keep), train.subset(out)
        held.hold_test(test_fraction, test.labels)
    val, val_pool = parts.val, 0
    if val is None and val_fraction:
        val_pool = len(train)
        keep, out = splits.stratified_split(train.labels, val_fraction, seed + 1)
        train, val = train.subset(keep), train.subset(out)
        held.hold_val(val_fraction, val.labels)
    if labels_per_class is not None:
        held.check_fits(labels_per_class)
    if labeled_indices is not None:
        labelled, rest = splits.chosen(len(train), labeled_indices)
    else:
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
        data_channels=parts.channels,
        data_size=items.typical_size(train),
        val_fraction=val_fraction if val_pool else None,
        val_pool=val_pool,
    )


def _check_val_fraction(val_fraction):
    if val_fraction is not None and not 0 <= val_fraction < 1:
        raise splits.OptionError(lambda name: (
            f"{name('val_fraction')} must be in [0, 1) (0: no validation "
            f"split). Received: {name('val_fraction', val_fraction)}"))


class Held:
    """What the test and validation hold-outs took of each training class,
    to say why a label budget does not fit.

    Args:
        class_names: The classes.
        labels: Labels of the source's whole training split.
    """

    def __init__(self, class_names, labels):
        self.class_names = class_names
        self.total = self._counts(labels)
        self.tested = self.validated = self._counts([])
        self.test_fraction = self.val_fraction = 0

    def _counts(self, labels):
        n = len(self.class_names)
        labels = np.asarray(labels, np.int64)
        return np.bincount(labels[(labels >= 0) & (labels < n)], minlength=n)

    def hold_test(self, fraction, labels):
        self.test_fraction, self.tested = fraction, self._counts(labels)

    def hold_val(self, fraction, labels):
        self.val_fraction, self.validated = fraction, self._counts(labels)

    def check_fits(self, labels_per_class):
        """Raises `splits.OptionError` naming the first class that holds
        fewer than `labels_per_class` once the hold-outs are taken."""
        left = self.total - self.tested - self.validated
        short = np.flatnonzero(left < labels_per_class)
        if len(short):
            cls = int(short[0])
            raise splits.OptionError(
                lambda name: self._too_many(name, labels_per_class, cls))

    def _too_many(self, name, k, cls):
        total, tested, validated = (int(self.total[cls]), int(self.tested[cls]),
                                    int(self.validated[cls]))
        left = total - tested - validated
        testing = ("for testing (the data has no test split: "
                   f"{self.test_fraction:.0%} of each class, the same in every run)")
        validation = (f"for validation ({name('val_fraction', self.val_fraction)} "
                      f"of each class, at least 1; {name('val_fraction', 0)} "
                      "holds none)")
        taken = [(n, what) for n, what in ((tested, testing),
                                           (validated, validation)) if n]
        held = ""
        if taken:
            (n, what), *more = taken
            held = (f", of which {n} {'is' if n == 1 else 'are'} held out {what}"
                    + "".join(f" and {m} {w}" for m, w in more)
                    + f", leaving {left}")
        fix = (f"Give at most {name('labels_per_class', left)}" if left > 0
               else "Add images of this class")
        return (
            f"{name('labels_per_class', k)} is more than class "
            f"'{self.class_names[cls]}' can give: it has {total} training "
            f"image{'s' if total != 1 else ''}{held}. {fix}. Received: "
            f"{name('labels_per_class', k)}")


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
