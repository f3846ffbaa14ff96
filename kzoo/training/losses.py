"""Per-example losses of the training wrappers, in `keras.ops`.

Each function returns one value per example; the wrappers reduce them (see
`kzoo.training.steps`) so that the result is right on any number of replicas.
"""

from keras import ops


def distillation_loss(teacher_logits, student_logits, temperature):
    """`T² · KL(softmax(teacher / T) ‖ softmax(student / T))` per example.

    The T² factor keeps the gradient of the soft targets on the same scale
    as the hard-label loss whatever the temperature (Hinton et al. 2015,
    section 2). Computed from log-softmax, without the probability clipping
    of `keras.losses.KLDivergence`.

    Args:
        teacher_logits: `[batch, classes]` logits of the teacher.
        student_logits: `[batch, classes]` logits of the student.
        temperature: Softmax temperature T > 0.

    Returns:
        A float32 `[batch]` tensor.

    Reference:
        Hinton, Vinyals, Dean. "Distilling the Knowledge in a Neural
        Network", 2015.
    """
    t = ops.cast(teacher_logits, "float32") / temperature
    s = ops.cast(student_logits, "float32") / temperature
    log_p = ops.log_softmax(t, axis=-1)
    kl = ops.sum(ops.exp(log_p) * (log_p - ops.log_softmax(s, axis=-1)), axis=-1)
    return kl * (temperature**2)


def check_temperature(temperature):
    """`temperature` as a float, validated (> 0).

    Raises:
        ValueError: If `temperature` is not > 0.
    """
    if not temperature > 0:
        raise ValueError(
            f"`temperature` must be > 0. Received: temperature={temperature}"
        )
    return float(temperature)


def crossentropy(labels, logits, label_smoothing=0.0):
    """Cross-entropy per example from logits; integer or one-hot/soft labels.

    Labels of rank `rank(logits) - 1` are class indices, and negative
    indices (unlabelled examples, as `kzoo.data` marks them) give 0;
    otherwise labels are class probabilities.

    Args:
        labels: `[batch]` integer classes or `[batch, classes]` probabilities.
        logits: `[batch, classes]` logits.
        label_smoothing: Mix this much of the uniform distribution into the
            targets.

    Returns:
        A float32 `[batch]` tensor.
    """
    logits = ops.cast(logits, "float32")
    num_classes = logits.shape[-1]
    if is_sparse(labels, logits):
        targets = ops.one_hot(known_classes(labels, logits), num_classes)
        targets = targets * ops.expand_dims(labelled_mask(labels, logits), -1)
    else:
        targets = ops.cast(labels, "float32")
    if label_smoothing:
        totals = ops.sum(targets, axis=-1, keepdims=True)
        targets = targets * (1.0 - label_smoothing) + totals * (
            label_smoothing / num_classes
        )
    return -ops.sum(targets * ops.log_softmax(logits, axis=-1), axis=-1)


def labelled_mask(labels, logits):
    """1.0 for labelled examples, 0.0 for unlabelled ones.

    Unlabelled: no labels at all, a class index < 0 (as `kzoo.data` marks
    the unlabelled pool), or an all-zero one-hot row (what `one_hot(-1)`
    gives).
    """
    if labels is None:
        return ops.zeros(ops.shape(logits)[:1], "float32")
    if is_sparse(labels, logits):
        return ops.cast(labels >= 0, "float32")
    return ops.cast(ops.sum(ops.cast(labels, "float32"), axis=-1) > 0, "float32")


def is_sparse(labels, logits):
    """Whether `labels` are class indices (rank of `logits` minus one)."""
    return len(labels.shape) == len(logits.shape) - 1


def known_classes(labels, logits):
    """Class-index labels with unlabelled (< 0) ones set to class 0, for
    losses and metrics that reject them (mask those examples); other labels
    unchanged."""
    if not is_sparse(labels, logits):
        return labels
    return ops.maximum(ops.cast(labels, "int32"), 0)
