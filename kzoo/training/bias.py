"""Bias correction for a class the student never saw (Hinton et al. 2015, §3)."""

import numpy as np


def bias_shift_for_share(logits, class_index, share, iterations=60):
    """How much to add to one class's logit so it wins on `share` of examples.

    The predicted share of a class grows monotonically with its bias, so a
    bisection finds the smallest shift that reaches `share`.

    Args:
        logits: `[N, classes]` logits (e.g. a distilled student's, on
            unlabelled validation images).
        class_index: The class whose bias moves.
        share: Target fraction in [0, 1] of examples predicted as that class
            (e.g. the teacher's predicted share on the same images).
        iterations: Bisection steps.

    Returns:
        The shift (float); 0 when the share is already reached.
    """
    logits = np.asarray(logits, dtype=np.float64)
    others = np.delete(logits, class_index, axis=1).max(axis=1)
    margin = others - logits[:, class_index]  # shift needed per example

    def reached(shift):
        return np.mean(margin < shift) >= share

    if reached(0.0):
        return 0.0
    lo, hi = 0.0, float(margin.max()) + 1.0
    for _ in range(iterations):
        mid = (lo + hi) / 2.0
        lo, hi = (lo, mid) if reached(mid) else (mid, hi)
    return hi


def add_class_bias(model, class_index, shift, layer_name=None):
    """Add `shift` to one class's bias in the model's last Dense layer."""
    layer = model.get_layer(layer_name) if layer_name else model.layers[-1]
    bias = np.array(layer.bias.numpy())
    bias[class_index] += shift
    layer.bias.assign(bias)
