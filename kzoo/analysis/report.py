"""Classification metrics shared by every evaluation path."""

import numpy as np


def classification_report(y_true, y_pred, class_names):
    """Accuracy, per-class accuracy and confusion matrix.

    Args:
        y_true: Integer labels, shape `(n,)`.
        y_pred: Integer predictions, shape `(n,)`.
        class_names: Names, index = class id.

    Returns:
        A JSON-serialisable dict with `accuracy`, `num_examples`,
        `per_class_accuracy` (name -> accuracy or None when the class has no
        test example) and `confusion_matrix` (rows = true, cols = predicted).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred differ in shape. Received: {y_true.shape}, "
            f"{y_pred.shape}"
        )
    k = len(class_names)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    support = cm.sum(axis=1)
    per_class = {
        name: (float(cm[i, i] / support[i]) if support[i] else None)
        for i, name in enumerate(class_names)
    }
    return {
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "num_examples": int(len(y_true)),
        "per_class_accuracy": per_class,
        "confusion_matrix": cm.tolist(),
    }
