"""Data sources, label budgets and `tf.data` pipelines.

`load_data(spec, ...)` turns a data spec into disjoint labelled train,
validation, test and unlabelled `tf.data` datasets plus the class names.
"""

from kzoo.data.loader import DataSplits, load_data
from kzoo.data.pipeline import batched, one_hot_labels, plan_steps

__all__ = ["DataSplits", "load_data", "batched", "one_hot_labels", "plan_steps"]
