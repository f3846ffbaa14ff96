"""Data sources: bundled digits, image folders, TFDS, in-memory arrays.

Each returns a `SourceParts`: class names, the source's natural channel
count, and `Items` for whichever of train/val/test/unlabeled it provides.
"""

import dataclasses
import os
import stat

import numpy as np

from kzoo.data import images
from kzoo.data.items import ArrayItems, FileItems, TfdsItems, scan_image_files
from kzoo.data.splits import OptionError
from kzoo.errors import DataError

SPLIT_DIRS = ("train", "val", "test")
UNLABELED_DIR = "unlabeled"
# The unlabelled pool's folder, in either spelling (one of them at a time).
UNLABELED_DIRS = (UNLABELED_DIR, "unlabelled")
RESERVED_DIRS = frozenset(SPLIT_DIRS + UNLABELED_DIRS)
# The layouts `folder_source` reads, for its error messages and --help.
FOLDER_LAYOUT = (
    "DIR/train/<class>/* (one folder of images per class), optional "
    "DIR/val/<class>/*, DIR/test/<class>/* and DIR/unlabeled/** (or "
    "unlabelled/: images without labels, at any depth); or DIR/<class>/* "
    "alone, of which test and validation images are held out per class"
)
LINKED_FOLDER = "a symbolic link to a folder (links are not followed)"


@dataclasses.dataclass
class SourceParts:
    name: str
    class_names: list
    channels: int
    train: object
    val: object = None
    test: object = None
    unlabeled: object = None
    skipped_files: list = dataclasses.field(default_factory=list)
    # {path: why it was skipped}, in the order of `skipped_files`.
    skipped_reasons: dict = dataclasses.field(default_factory=dict)


def digits_source():
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images; no download).

    The 0-16 grey levels are scaled to uint8 0-255.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    pixels = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    names = [str(c) for c in bunch.target_names]
    return SourceParts("digits", names, 1, ArrayItems(pixels, bunch.target))


def array_source(data, class_names=None):
    """In-memory arrays: `(x, y)` or a dict with keys among train/val/test.

    `x` is `[N, H, W]` or `[N, H, W, C]`, uint8 or float in [0, 255].
    """
    splits = data if isinstance(data, dict) else {"train": data}
    unknown = set(splits) - set(SPLIT_DIRS)
    if unknown or "train" not in splits:
        raise DataError(
            "Array data must be (x, y) or a dict with 'train' and optionally "
            f"'val'/'test'. Received keys: {sorted(splits)}"
        )
    items = {}
    for split, (x, y) in splits.items():
        x = np.asarray(x)
        if x.ndim == 3:
            x = x[..., None]
        if x.ndim != 4 or len(x) != len(y):
            raise DataError(
                f"'{split}' images must be [N, H, W(, C)] with one label each. "
                f"Received: x.shape={x.shape}, len(y)={len(y)}"
            )
        pixels = np.round(np.clip(x, 0, 255)).astype(np.uint8)
        items[split] = ArrayItems(pixels, np.asarray(y))
    if class_names is None:
        class_names = [str(i) for i in range(int(items["train"].labels.max()) + 1)]
    channels = 1 if items["train"].pixels.shape[-1] == 1 else 3
    return SourceParts("arrays", list(class_names), channels, **items)


def folder_source(root, max_image_pixels=images.MAX_IMAGE_PIXELS):
    """`root/train/<class>/*` (+ optional val/, test/, unlabeled/**).

    A root without `train/` is read as `root/<class>/*` (then `val/` or
    `test/` beside the classes is an error: they are read only beside
    `train/`). The pool's folder may be spelt `unlabeled/` or `unlabelled/`
    (both at once is an error). The source's channels are 1 when every
    image decodes to grey (grey or grey with alpha: a PNG of colour type 0
    or 4, a one-component JPEG, ...), else 3; the scan decodes each file
    once anyway, so this costs nothing more. Only regular files
    are read (a symbolic link to one is followed); named pipes, devices,
    broken links, links to folders inside a class or unlabeled folder (not
    followed; a class folder that is itself a link is read) and files too
    large for any image within the limit are skipped, as are files that do not decode
    and images declaring more than `max_image_pixels` (checked from the
    header, before decoding). Skipped paths are listed in `skipped_files`,
    with the reason of each in `skipped_reasons`. An unreadable folder of a
    labelled split is an error (its images would silently go missing); an
    unreadable folder under `unlabeled/` is skipped. The `FileItems` check
    each file again whenever a pipeline reads it (see `FileItems`).

    Raises:
        DataError: No class folders (the message shows the layout), an
            empty training class, an unreadable train/val/test folder, a
            split without a decodable image, ...
    """
    root = os.path.abspath(root)
    has_train = os.path.isdir(os.path.join(root, "train"))
    train_dir = os.path.join(root, "train") if has_train else root
    class_names = _class_dirs(train_dir, () if has_train else RESERVED_DIRS)
    if not class_names:
        raise DataError(
            f"No class folders found in {train_dir}. Expected the layout "
            f"{FOLDER_LAYOUT}. Received: {_contents(train_dir)}")
    if not has_train:
        _check_flat_layout(root)
    pool_dir = unlabeled_dir(root)
    scan = FileScan(max_image_pixels)
    parts = {}
    for split in SPLIT_DIRS:
        split_dir = train_dir if split == "train" else os.path.join(root, split)
        if split != "train" and not (has_train and os.path.isdir(split_dir)):
            continue
        paths, labels = _scan_classes(split_dir, class_names, split, scan)
        keep = scan.images(paths)
        items = FileItems(np.asarray(paths, dtype=object)[keep],
                          np.asarray(labels)[keep], scan.max_image_pixels)
        _check_nonempty_classes(
            items.labels, class_names, split_dir, every_class=split == "train"
        )
        parts[split] = items
    if pool_dir is not None:
        paths = scan.files_below(pool_dir, on_unreadable=scan.skip_folder)
        kept = np.asarray(paths, dtype=object)[scan.images(paths)]
        parts["unlabeled"] = FileItems(kept, np.full(len(kept), -1),
                                       scan.max_image_pixels)
    name = os.path.basename(root.rstrip(os.sep))
    return SourceParts(name, class_names, scan.channels(),
                       skipped_files=list(scan.skipped),
                       skipped_reasons=scan.skipped, **parts)


def unlabeled_dir(root):
    """`root`'s unlabelled folder (`unlabeled/` or `unlabelled/`), or None.

    Raises:
        DataError: Both spellings are there (which one holds the pool?).
    """
    found = [os.path.join(root, d) for d in UNLABELED_DIRS
             if os.path.isdir(os.path.join(root, d))]
    if len(found) > 1:
        raise DataError(
            f"Data folder {root} has both unlabeled/ and unlabelled/: expected "
            "one folder of unlabelled images (either spelling); move the "
            f"images of one into the other. Received: {', '.join(found)}")
    return found[0] if found else None


def _check_flat_layout(root):
    """A root read as `root/<class>/*` must not hold `val/` or `test/`: they
    would be neither classes nor splits (read only beside `train/`)."""
    splits = [d for d in ("val", "test") if os.path.isdir(os.path.join(root, d))]
    if splits:
        names = ", ".join(f"{d}/" for d in splits)
        raise DataError(
            f"Data folder {root} has {names} but no train/: expected the "
            f"training classes in {os.path.join(root, 'train')}/<class>/ "
            f"beside them (the layout {FOLDER_LAYOUT}). Received: "
            f"{_contents(root)}")


def _contents(directory):
    """What `directory` holds, in a few words, for an error message."""
    names = [n for n in _list_dir(directory) if not n.startswith(".")]
    folders = sorted(n for n in names if os.path.isdir(os.path.join(directory, n)))
    files = len(names) - len(folders)
    shown = ", ".join(f"{d}/" for d in folders[:5]) + (
        f" and {len(folders) - 5} more" if len(folders) > 5 else "")
    what = [f"{files} file{'s' if files != 1 else ''}"]
    what.append(f"the folders {shown}" if folders else "no folders")
    return f"{directory} holds {' and '.join(what)}"


def tfds_source(name, data_dir=None, download=False):
    """A TFDS dataset's train (+ validation, test) splits, images kept encoded."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        info = builder.info
    except Exception as err:  # unknown name, bad config, ...
        raise DataError(f"Cannot open TFDS dataset '{name}': {err}".splitlines()[0])
    if not info.supervised_keys:
        raise DataError(f"TFDS dataset '{name}' has no (image, label) supervised keys.")
    image_key, label_key = info.supervised_keys[:2]
    class_names = list(info.features[label_key].names)
    shape = info.features[image_key].shape
    channels = 1 if shape and shape[-1] == 1 else 3
    known = set(info.splits)  # empty when not prepared (or under mock_data)
    parts = {}
    for split, tfds_split in (("train", "train"), ("val", "validation"),
                              ("test", "test")):
        if tfds_split not in known and (known or split == "val"):
            continue  # validation only when the metadata lists it
        load = _tfds_loader(name, tfds_split, data_dir, image_key, label_key)
        try:
            labels = np.fromiter(
                (y for _, y in load().as_numpy_iterator()), dtype=np.int32
            )
        except Exception as err:
            if split != "train" and tfds_split not in known:
                continue  # a split the metadata does not list is optional
            raise DataError(
                f"TFDS dataset '{name}' split '{tfds_split}' is not available offline "
                f"(the --download flag, or download= in load_data, fetches it): "
                f"{str(err).strip().splitlines()[0]}"
            )
        parts[split] = TfdsItems(load, np.arange(len(labels)), labels)
    return SourceParts(name.replace("/", "_"), class_names, channels, **parts)


def select_classes(parts, names):
    """Keep only the classes `names` (in that order, relabelled 0..k-1).

    Applies to the labelled splits; an `unlabeled/` pool is kept whole.
    """
    names = [str(n) for n in names]
    unknown = [n for n in names if n not in parts.class_names]
    if not names or unknown or len(set(names)) != len(names):
        raise OptionError(lambda name: (
            f"Classes must be distinct names among {parts.class_names}. "
            f"Received: {name('classes', names)}"))
    old = np.array([parts.class_names.index(n) for n in names], dtype=np.int32)
    mapping = np.full(len(parts.class_names), -1, dtype=np.int32)
    mapping[old] = np.arange(len(old), dtype=np.int32)

    def select(items):
        if items is None:
            return None
        sub = items.subset(np.flatnonzero(np.isin(items.labels, old)))
        labels = mapping[sub.labels]
        if isinstance(sub, ArrayItems):
            return ArrayItems(sub.pixels, labels)
        if isinstance(sub, FileItems):
            return FileItems(sub.paths, labels, sub.max_image_pixels)
        return TfdsItems(_remapped(sub._load_encoded, mapping), sub.indices, labels)

    return dataclasses.replace(
        parts, class_names=names, train=select(parts.train),
        val=select(parts.val), test=select(parts.test),
    )


def _remapped(load, mapping):
    import tensorflow as tf

    table = tf.constant(mapping)
    return lambda: load().map(lambda x, y: (x, tf.gather(table, y)))


def _tfds_loader(name, split, data_dir, image_key, label_key):
    import tensorflow_datasets as tfds

    def load():
        ds = tfds.load(
            name,
            split=split,
            data_dir=data_dir,
            download=False,
            shuffle_files=False,
            decoders={image_key: tfds.decode.SkipDecoding()},
        )
        return ds.map(lambda ex: (ex[image_key], ex[label_key]))

    return load


def _class_dirs(directory, exclude):
    return sorted(
        d
        for d in _list_dir(directory)
        if os.path.isdir(os.path.join(directory, d))
        and not d.startswith(".")
        and d not in exclude
    )


def _list_dir(directory):
    try:
        return os.listdir(directory)
    except OSError as err:
        _raise_unreadable(err)


def _raise_unreadable(err):
    """`os.walk` error handler of the labelled splits: an unreadable folder is
    an error, never a silently smaller split."""
    raise DataError(
        f"Folder {err.filename} of a labelled split must be readable: its images "
        f"would silently go missing. Received: {err.strerror} (errno {err.errno})"
    ) from err


class FileScan:
    """What one folder scan keeps, and `skipped`: {path: reason} of the rest."""

    def __init__(self, max_image_pixels):
        self.max_image_pixels = images.check_max_pixels(max_image_pixels)
        self.max_bytes = images.max_encoded_bytes(self.max_image_pixels)
        self.skipped = {}
        self.decoded_channels = set()  # what the kept images decode to

    def files_below(self, directory, on_unreadable=_raise_unreadable):
        """Sorted regular files below `directory`, hidden names left out.

        `os.walk` reports a folder it cannot list to `on_unreadable` (by
        default it would silently leave it out) and never follows a link to
        a folder, so link loops cannot trap the scan.
        """
        found = []
        for dirpath, dirnames, filenames in os.walk(directory, onerror=on_unreadable):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".")
                                 and not self._linked_folder(dirpath, d))
            for name in sorted(f for f in filenames if not f.startswith(".")):
                path = os.path.join(dirpath, name)
                reason = self.not_readable(path)
                if reason:
                    self.skipped[path] = reason
                else:
                    found.append(path)
        return found

    def skip_folder(self, err):
        """`os.walk` error handler that skips an unreadable folder."""
        self.skipped[err.filename] = f"unreadable folder ({err.strerror})"

    def images(self, paths):
        """Mask of `paths` that are images within the limit; records the rest
        (and the channels the kept ones decode to)."""
        reasons, channels = scan_image_files(paths, self.max_image_pixels)
        for path, reason in zip(paths, reasons):
            if reason:
                self.skipped[path] = reason
        kept = np.array([r is None for r in reasons], dtype=bool)
        self.decoded_channels.update(channels[kept].tolist())
        return kept

    def channels(self):
        """1 when every kept image is grey (1 channel, or 2: grey and
        alpha), else 3 (an alpha channel is dropped, see
        `images.convert_channels`)."""
        grey = self.decoded_channels and self.decoded_channels <= {1, 2}
        return 1 if grey else 3

    def _linked_folder(self, dirpath, name):
        path = os.path.join(dirpath, name)
        if not os.path.islink(path):
            return False
        self.skipped[path] = LINKED_FOLDER
        return True

    def not_readable(self, path):
        """Why `path` must not be read as an image file, or None."""
        try:
            info = os.stat(path)  # follows a symbolic link
        except OSError as err:
            if os.path.islink(path):
                return f"a broken symbolic link ({err.strerror})"
            return f"cannot be read ({err.strerror})"
        if not stat.S_ISREG(info.st_mode):
            return f"not a regular file ({_file_kind(info.st_mode)})"
        if info.st_size > self.max_bytes:
            return (
                f"{info.st_size} bytes, more than an image of at most "
                f"{self.max_image_pixels} pixels takes ({self.max_bytes} bytes)"
            )
        return None


def _file_kind(mode):
    kinds = [(stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
             (stat.S_ISDIR, "a folder")]
    return next((kind for test, kind in kinds if test(mode)), "a special file")


def _scan_classes(split_dir, class_names, split, scan):
    present = _class_dirs(split_dir, RESERVED_DIRS if split == "train" else ())
    unknown = sorted(set(present) - set(class_names))
    if unknown:
        raise DataError(
            f"Classes {unknown} in {split_dir} are not among the training "
            f"classes {class_names}."
        )
    paths, labels = [], []
    for label, cls in enumerate(class_names):
        cls_dir = os.path.join(split_dir, cls)
        files = scan.files_below(cls_dir) if os.path.isdir(cls_dir) else []
        if split == "train" and not files:
            raise DataError(f"Class folder {cls_dir} has no files.")
        paths += files
        labels += [label] * len(files)
    return paths, labels


def _check_nonempty_classes(labels, class_names, split_dir, every_class):
    if len(labels) == 0:
        raise DataError(f"No decodable images found in {split_dir}.")
    if not every_class:
        return
    counts = np.bincount(labels, minlength=len(class_names))
    empty = [class_names[i] for i in np.flatnonzero(counts == 0)]
    if empty:
        raise DataError(
            f"Class folders {empty} in {split_dir} hold no decodable images."
        )
