"""Seeded, stratified index splits and label budgets (pure NumPy)."""

import numpy as np

from kzoo.errors import DataError


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
        raise DataError(f"A split fraction must be in (0, 1). Received: {fraction}")
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
    if labels_per_class is not None and label_fraction is not None:
        raise DataError(
            "Give either labels_per_class or label_fraction, not both. Received: "
            f"labels_per_class={labels_per_class}, label_fraction={label_fraction}"
        )
    if labels_per_class is not None and (
        not isinstance(labels_per_class, (int, np.integer)) or labels_per_class < 1
    ):
        raise DataError(
            f"labels_per_class must be a positive integer. "
            f"Received: labels_per_class={labels_per_class}"
        )
    if label_fraction is not None and not 0 < label_fraction <= 1:
        raise DataError(
            f"label_fraction must be in (0, 1]. Received: label_fraction={label_fraction}"
        )
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in range(len(class_names)):
        idx = np.flatnonzero(labels == cls)
        if labels_per_class is not None:
            k = labels_per_class
            if k > len(idx):
                raise DataError(
                    f"labels_per_class={k} is more than class "
                    f"'{class_names[cls]}' holds in the training split "
                    f"({len(idx)} images)."
                )
        else:
            k = max(1, int(round(label_fraction * len(idx))))
        chosen.append(rng.choice(idx, size=k, replace=False))
    labelled = np.sort(np.concatenate(chosen))
    unlabelled = np.setdiff1d(np.arange(n), labelled)
    return labelled, unlabelled
