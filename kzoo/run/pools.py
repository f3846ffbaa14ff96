"""The image pool of `kzoo pretrain` and `kzoo select`, loaded and
described as every run's data is."""

import os

from kzoo.data import image_pool, items
from kzoo.data.loader import DataSplits
from kzoo.errors import DataError
from kzoo.run import progress


def load_pool(config, need_unlabeled=False):
    """`kzoo.data.image_pool` of --data, said in one line plus a line per
    skipped file.

    Raises:
        DataError: As `image_pool`.
    """
    pool = image_pool(config.data, need_unlabeled=need_unlabeled)
    where = {"folder": "every image under the folder, at any depth",
             "data folder": ("its unlabeled/ images; train/ counts as labelled"
                             if need_unlabeled else
                             "its train/ and unlabeled/ images, labels unread"),
             "dataset": "its training images (the test split held out), "
                        "labels unread"}[pool.layout]
    if pool.layout == "data folder" and not os.path.isdir(
            os.path.join(config.data, "train")):
        where = "its unlabeled/ images; nothing labelled yet"
    labelled = (f", {len(pool.labeled):,} already labelled"
                if pool.labeled is not None else "")
    progress.say(f"data '{pool.name}': {len(pool):,} images ({where}){labelled}; "
                 f"{'grey' if pool.channels == 1 else 'RGB'}; skipped files: "
                 f"{len(pool.skipped_reasons)}")
    say_skipped(pool.skipped_reasons)
    return pool


def say_skipped(reasons):
    """One line per file a scan skipped (`{path: reason}`), with its reason."""
    for path, reason in reasons.items():
        progress.say(f"  skipped: {items.display_path(path)}: {reason}")


def channels_of(config, pool):
    """--channels, else the pool's own."""
    channels = config.get("channels") or pool.channels
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 or 3. Received: channels={channels}")
    return channels


def pool_splits(pool, size, channels):
    """The pool as the training split of a `DataSplits` (unlabelled:
    label -1; no validation or test split), for `kzoo.run.fitting.fit`."""
    # The items' own dataset: readable by index, so that a pool too large
    # to cache is shuffled by index each pass (`kzoo.data.batched`), not in
    # a buffer over files sorted by folder. Labels are never read.
    skips = items.SkipLog(list(pool.skipped_reasons), pool.skipped_reasons)
    images = pool.items.dataset((size, size), channels, skips)
    return DataSplits(
        name=pool.name, class_names=[], image_shape=(size, size, channels),
        train=images, val=None, test=None, unlabeled=None,
        counts={"train": len(pool), "val": 0, "test": 0, "unlabeled": 0},
        skipped_files=[items.display_path(p) for p in pool.skipped_reasons],
        skipped_reasons=dict(pool.skipped_reasons), data_channels=pool.channels)
