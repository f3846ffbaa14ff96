"""Seeded, stratified index splits and label budgets (pure NumPy)."""

import numpy as np

from kzoo.errors import DataError

_BARE = object()  # an option named without a value


def python_name(option, value=_BARE):
    """An option as a Python caller gives it: `labels_per_class=20`, or
    `labels_per_class` without a value."""
    return option if value is _BARE else f"{option}={value!r}"


def flag_name(option, value=_BARE):
    """An option as the command line gives it: `--labels-per-class 20`
    (a list as `--classes 5,6`), or `--labels-per-class` without a value."""
    flag = "--" + option.replace("_", "-")
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    return flag if value is _BARE else f"{flag} {value}"


class OptionError(DataError):
    """A `DataError` about options, worded for whoever gave them.

    `str(err)` names them as a Python caller does (`labels_per_class=20`);
    `with_flags()` as the `kzoo` command line does (`--labels-per-class 20`),
    which is what `kzoo.run` shows.

    Args:
        words: `words(name) -> message`, where `name(option[, value])`
            writes an option, with its value if given (`python_name` or
            `flag_name`).
    """

    def __init__(self, words):
        self.words = words
        super().__init__(words(python_name))

    def with_flags(self):
        return self.words(flag_name)


def stratified_split(labels, fraction, seed):
    """Split indices into (kept, held_out), `fraction` of each class held out.

    Every class with two or more items keeps at least one and holds out at
    least one.

    Args:
        labels: Integer labels, shape `(n,)`.
        fraction: Fraction in (0, 1) to hold out per class.
        seed: Seed of the permutation.

    Returns:
        Two sorted index arrays.
    """
    if not 0 < fraction < 1:
        raise DataError(
            f"A split fraction must be in (0, 1). Received: fraction={fraction!r}")
    rng = np.random.default_rng(seed)
    kept, held = [], []
    for cls in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_held = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            n_held = min(max(n_held, 1), len(idx) - 1)
        else:
            n_held = 0
        held.append(idx[:n_held])
        kept.append(idx[n_held:])
    return np.sort(np.concatenate(kept)), np.sort(np.concatenate(held))


def label_budget(labels, class_names, seed, labels_per_class=None,
                 label_fraction=None):
    """Pick the labelled subset of a training pool.

    Args:
        labels: Integer labels of the pool, shape `(n,)`.
        class_names: Names, for error messages.
        seed: Seed of the choice.
        labels_per_class: Keep K labelled items per class.
        label_fraction: Keep round(F * n_c) items per class (at least 1).

    Returns:
        `(labelled, unlabelled)` sorted index arrays; their union is the pool.

    Raises:
        DataError: If both or invalid budgets are given, or a class holds
            fewer items than `labels_per_class`.
    """
    n = len(labels)
    if labels_per_class is None and label_fraction is None:
        return np.arange(n), np.arange(0)
    check_budget(labels_per_class, label_fraction)
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in range(len(class_names)):
        idx = np.flatnonzero(labels == cls)
        if labels_per_class is not None:
            k = labels_per_class
            if k > len(idx):
                raise _more_than_held(k, class_names[cls], len(idx))
        else:
            k = max(1, int(round(label_fraction * len(idx))))
        chosen.append(rng.choice(idx, size=k, replace=False))
    labelled = np.sort(np.concatenate(chosen))
    unlabelled = np.setdiff1d(np.arange(n), labelled)
    return labelled, unlabelled


def chosen(n, indices):
    """`(labelled, unlabelled)` sorted index arrays of a pool of `n` whose
    labelled images are `indices` (each once, in range).

    Raises:
        OptionError: An index repeated or outside [0, n), or none given.
    """
    values = np.asarray(list(indices), dtype=np.int64).reshape(-1)
    bad = values[(values < 0) | (values >= n)]
    if not len(values) or len(bad) or len(np.unique(values)) != len(values):
        what = (f"{bad[:5].tolist()} outside [0, {n})" if len(bad) else
                "none" if not len(values) else "repeated indices")
        raise OptionError(lambda name: (
            f"{name('labeled_indices')} must name distinct images of the "
            f"{n}-image training split (indices 0 to {n - 1}); {what}. "
            f"Received: {len(values)} indices"))
    labelled = np.sort(values)
    return labelled, np.setdiff1d(np.arange(n), labelled)


def _more_than_held(labels_per_class, class_name, held):
    return OptionError(lambda name: (
        f"{name('labels_per_class', labels_per_class)} is more than class "
        f"'{class_name}' holds in the training split ({held} images). "
        f"Received: {name('labels_per_class', labels_per_class)}"))


def check_budget(labels_per_class=None, label_fraction=None):
    """Validate a label budget (at most one of the two, each in range).

    Raises:
        OptionError: Both are given, or one is out of range.
    """
    if labels_per_class is not None and label_fraction is not None:
        raise OptionError(lambda name: (
            f"Give either {name('labels_per_class')} or "
            f"{name('label_fraction')}, not both. Received: "
            f"{name('labels_per_class', labels_per_class)}, "
            f"{name('label_fraction', label_fraction)}"))
    if labels_per_class is not None and (
        not isinstance(labels_per_class, (int, np.integer)) or labels_per_class < 1
    ):
        raise OptionError(lambda name: (
            f"{name('labels_per_class')} must be a positive integer. "
            f"Received: {name('labels_per_class', labels_per_class)}"))
    if label_fraction is not None and not 0 < label_fraction <= 1:
        raise OptionError(lambda name: (
            f"{name('label_fraction')} must be in (0, 1]. "
            f"Received: {name('label_fraction', label_fraction)}"))
