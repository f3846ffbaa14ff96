"""Which pseudo-labelled images a student trains on, and how often (NumPy).

Noisy Student (Xie et al. 2020, section 3 and the reference code's
`label_data`) keeps the images the un-noised teacher is confident about and
can balance the classes: a class with too many images keeps its most
confident ones, a class with too few repeats its images (most confident
first) until every class holds the same number.

Selection is expressed as a repeat count per pool image (0 = left out), so
the pool can stay on disk and be streamed: see
`kzoo.data.pipeline.with_pseudo_labels`.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass
class PseudoLabels:
    """What `select_pseudo_labels` returns.

    Attributes:
        repeats: int `[N]`, how many times each pool image is trained on.
        targets: float32 `[N, classes]`, the teacher's probabilities (soft)
            or one-hot argmax (hard), for every pool image.
        classes: int `[N]`, the teacher's argmax.
        confidence: float32 `[N]`, the teacher's top probability.
        per_class: int `[classes]`, training examples per class after
            selection and balancing (repeats included).
    """

    repeats: np.ndarray
    targets: np.ndarray
    classes: np.ndarray
    confidence: np.ndarray
    per_class: np.ndarray

    @property
    def num_selected(self):
        """Distinct pool images kept."""
        return int(np.count_nonzero(self.repeats))

    @property
    def num_examples(self):
        """Training examples, duplicates included."""
        return int(self.repeats.sum())

    def accuracy(self, true_labels):
        """Accuracy of the kept pseudo-labels on the images whose true label
        is known (>= 0); None when there are none."""
        true_labels = np.asarray(true_labels)
        known = (self.repeats > 0) & (true_labels >= 0)
        if not known.any():
            return None
        return float(np.mean(self.classes[known] == true_labels[known]))


def select_pseudo_labels(probabilities, threshold=0.0, soft=False, balance=False,
                         per_class=None):
    """Choose the pseudo-labelled training set from a teacher's probabilities.

    Args:
        probabilities: `[N, classes]` softmax outputs of the un-noised teacher.
        threshold: Keep an image when its top probability is >= this.
        soft: Targets are the probabilities (True) or one-hot argmax (False).
        balance: Equalise the classes: each class is trimmed to its
            `per_class` most confident kept images, or its kept images are
            repeated (most confident first) up to `per_class`. A class with
            no kept image stays empty.
        per_class: Target count per class when balancing; default the mean
            count over the classes that kept any image.

    Returns:
        A `PseudoLabels`.

    Raises:
        ValueError: For a non-2-D input, a threshold outside [0, 1] or
            `per_class` < 1.

    Reference:
        Xie, Luong, Hovy, Le. "Self-training with Noisy Student improves
        ImageNet classification", CVPR 2020.
    """
    probs = np.asarray(probabilities, dtype=np.float32)
    if probs.ndim != 2:
        raise ValueError(
            f"`probabilities` must be [N, classes]. Received shape {probs.shape}"
        )
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"`threshold` must be in [0, 1]. Received: {threshold}")
    if per_class is not None and per_class < 1:
        raise ValueError(f"`per_class` must be >= 1. Received: per_class={per_class}")
    num_classes = probs.shape[1]
    classes = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    confidence = probs.max(axis=1) if len(probs) else np.zeros(0, np.float32)
    repeats = (confidence >= threshold).astype(np.int64)
    if balance:
        repeats = balanced_repeats(classes, confidence, repeats > 0, num_classes,
                                   per_class)
    targets = probs if soft else np.eye(num_classes, dtype=np.float32)[classes]
    per_class_counts = np.bincount(classes, weights=repeats, minlength=num_classes)
    return PseudoLabels(
        repeats=repeats,
        targets=targets.astype(np.float32),
        classes=classes.astype(np.int64),
        confidence=confidence,
        per_class=per_class_counts.astype(np.int64),
    )


def balanced_repeats(classes, confidence, kept, num_classes, per_class=None):
    """Repeat counts giving every non-empty class `per_class` examples.

    Args:
        classes: int `[N]` predicted classes.
        confidence: `[N]` top probabilities (ranks the images of a class).
        kept: bool `[N]`, images that passed the threshold.
        num_classes: Number of classes.
        per_class: Target per class; default the mean count over the
            non-empty classes (rounded).

    Returns:
        int `[N]` repeat counts.
    """
    counts = np.bincount(classes[kept], minlength=num_classes)
    repeats = np.zeros(len(classes), dtype=np.int64)
    if not counts.any():
        return repeats
    if per_class is None:
        per_class = int(round(counts[counts > 0].mean()))
    for c in np.flatnonzero(counts):
        members = np.flatnonzero(kept & (classes == c))
        ranked = members[np.argsort(-confidence[members], kind="stable")]
        # Cycle through the ranked images: the first per_class % n get one
        # extra copy, so the most confident are the ones duplicated.
        full, extra = divmod(per_class, len(ranked))
        repeats[ranked] = full
        repeats[ranked[:extra]] += 1
    return repeats
