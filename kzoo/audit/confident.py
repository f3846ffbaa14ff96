"""Confident learning: which given labels are likely wrong, from
out-of-sample predicted probabilities.

Northcutt et al.'s confident learning, as cleanlab 2.x computes it:

1. per-class thresholds: the mean probability of class j over the images
   labelled j (`class_thresholds`);
2. the confident joint C[i][j]: images labelled i whose probability of j
   reaches j's threshold (the most probable such class when several do)
   (`confident_joint`; calibrated, each row scaled to the images labelled
   i);
3. the images to flag (`find_label_issues`):
   - `"low_self_confidence"` (the default here): as many as lie off the
     diagonal of C and are not predicted as their label
     (`num_label_issues`): the images of lowest self-confidence, whatever
     they are predicted as (as cleanlab);
   - `"prune_by_noise_rate"` (cleanlab's default): for every off-diagonal
     cell of the calibrated C, its count of images labelled i with the
     largest margin p_j - p_i, never one predicted as its label (cleanlab
     also keeps at least one image of each class's diagonal; not here).

Flagged images are ranked by self-confidence (the probability of the given
label, lowest first). On the bundled digits with 5% and 10% of the labels
flipped, the first found more of the flips at the same count
(`benchmarks/bench_audit.py`). NumPy only.

Reference:
    Northcutt, Jiang, Chuang. "Confident Learning: Estimating Uncertainty
    in Dataset Labels." JAIR 70 (2021). https://arxiv.org/abs/1911.00068
"""

import numpy as np

_TOLERANCE = 1e-6  # a probability equal to its threshold counts as above it


def _check(probabilities, labels):
    p = np.asarray(probabilities, np.float64)
    y = np.asarray(labels, np.int64).reshape(-1)
    if p.ndim != 2 or len(p) != len(y):
        raise ValueError(f"Expected probabilities [N, K] and labels [N]. "
                         f"Received: shapes {p.shape} and {y.shape}")
    if len(y) and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError(f"labels must be in [0, {p.shape[1]}). Received: "
                         f"{y.min()} to {y.max()}")
    return p, y


def class_thresholds(probabilities, labels):
    """`[K]`: the mean probability of each class over the images given it
    (2 for a class no image is given: no probability reaches it)."""
    p, y = _check(probabilities, labels)
    k = p.shape[1]
    counts = np.bincount(y, minlength=k)
    sums = np.bincount(y, weights=p[np.arange(len(y)), y], minlength=k)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 2.0)


def _confident_guess(p, y):
    """`(confident, guess)`: whether an image reaches some class's
    threshold, and the class it is then counted in."""
    above = p >= class_thresholds(p, y) - _TOLERANCE
    guess = np.where(above.sum(axis=1) > 1, p.argmax(axis=1), above.argmax(axis=1))
    return above.any(axis=1), guess


def confident_joint(probabilities, labels, calibrate=True):
    """`[K, K]` counts: rows the given label, columns the confident guess.

    Args:
        probabilities: `[N, K]` out-of-sample predicted probabilities.
        labels: `[N]` given labels.
        calibrate: Scale each row to the number of images given its label
            and round keeping the row totals (cleanlab's
            `calibrate_confident_joint`).
    """
    p, y = _check(probabilities, labels)
    k = p.shape[1]
    confident, guess = _confident_guess(p, y)
    joint = np.zeros((k, k), np.int64)
    np.add.at(joint, (y[confident], guess[confident]), 1)
    if not calibrate:
        return joint
    given = np.bincount(y, minlength=k)
    rows = joint.sum(axis=1, keepdims=True)
    scaled = np.where(rows > 0, joint / np.maximum(rows, 1) * given[:, None], 0.0)
    return np.stack([_round_keeping_total(row, total)
                     for row, total in zip(scaled, given)])


def _predicted_as_given(p, y):
    """Images whose most probable class is their given label (a tie with
    it counts as it)."""
    favoured = p.copy()
    favoured[np.arange(len(y)), y] += _TOLERANCE
    return favoured.argmax(axis=1) == y


def num_label_issues(probabilities, labels):
    """How many labels are likely wrong: the images off the diagonal of the
    (uncalibrated) confident joint whose most probable class is not their
    label (cleanlab's `num_label_issues`, `"off_diagonal"`)."""
    p, y = _check(probabilities, labels)
    confident, guess = _confident_guess(p, y)
    return int(np.sum(confident & (guess != y) & ~_predicted_as_given(p, y)))


def _round_keeping_total(row, total):
    """Integers near `row` that sum to `total`: rounded, then the entries
    rounded furthest the wrong way moved by one (cleanlab's
    `round_preserving_sum`)."""
    ints = np.round(row)
    short = int(np.round(total - ints.sum()))
    step = 1 if short > 0 else -1
    order = np.argsort(row - ints)[::-step][:abs(short)]
    ints[order] += step
    return ints.astype(np.int64)


FILTERS = ("low_self_confidence", "prune_by_noise_rate")


def find_label_issues(probabilities, labels, filter_by="low_self_confidence"):
    """Indices of the images whose given label is likely wrong, ranked by
    self-confidence (most likely wrong first).

    Args:
        probabilities: `[N, K]` out-of-sample predicted probabilities.
        labels: `[N]` given labels.
        filter_by: `"low_self_confidence"`: the `num_label_issues` images
            of lowest self-confidence; `"prune_by_noise_rate"`: per
            off-diagonal cell of the calibrated confident joint, its count of
            images with the largest margin (see the module docstring). Both
            are cleanlab's `filter_by` of the same name.

    Returns:
        int `[M]` indices into `labels`.
    """
    p, y = _check(probabilities, labels)
    if filter_by not in FILTERS:
        raise ValueError(f"filter_by must be one of {FILTERS}. Received: "
                         f"filter_by={filter_by!r}")
    trust = self_confidence(p, y)
    if filter_by == "low_self_confidence":
        return np.argsort(trust, kind="stable")[:num_label_issues(p, y)]
    joint = confident_joint(p, y)
    flagged = np.zeros(len(y), bool)
    for given in range(p.shape[1]):
        members = np.flatnonzero(y == given)
        if len(members) <= 1:  # a class of one image keeps its label
            continue
        for other in range(p.shape[1]):
            count = int(joint[given, other])
            if other == given or count == 0:
                continue
            margin = p[members, other] - p[members, given]
            flagged[members[np.argsort(-margin, kind="stable")[:count]]] = True
    issues = np.flatnonzero(flagged & ~_predicted_as_given(p, y))
    return issues[np.argsort(trust[issues], kind="stable")]


def self_confidence(probabilities, labels):
    """`[N]` the probability of each image's given label (low: suspect)."""
    p, y = _check(probabilities, labels)
    return p[np.arange(len(y)), y]
