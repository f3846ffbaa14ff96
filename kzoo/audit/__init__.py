"""Checking the labels a person gave: confident learning on out-of-fold
predictions (`find_label_issues`) and near-duplicates across classes
(`cross_class_duplicates`). NumPy only; `kzoo audit` trains the folds."""

from kzoo.audit.confident import (
    FILTERS,
    class_thresholds,
    confident_joint,
    find_label_issues,
    num_label_issues,
    self_confidence,
)
from kzoo.audit.duplicates import DEFAULT_THRESHOLD, cross_class_duplicates

__all__ = ["DEFAULT_THRESHOLD", "FILTERS", "class_thresholds", "confident_joint",
           "cross_class_duplicates", "find_label_issues", "num_label_issues",
           "self_confidence"]
