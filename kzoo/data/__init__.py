"""Data sources, label budgets and `tf.data` pipelines.

`load_data(spec, ...)` turns a data spec into disjoint labelled train,
validation, test and unlabelled `tf.data` datasets plus the class names;
`list_files` and `read_batches` stream unlabelled files for prediction;
`image_pool` gives the images a selection or self-supervised run reads.
"""

from kzoo.data.files import FileList, list_files, read_batches
from kzoo.data.images import MAX_IMAGE_PIXELS
from kzoo.data.loader import DataSplits, load_data
from kzoo.data.pipeline import (
    batched,
    fixmatch_batches,
    one_hot_labels,
    semi_supervised_batches,
    simclr_batches,
    with_pseudo_labels,
)
from kzoo.data.pool import ImagePool, image_pool

__all__ = [
    "MAX_IMAGE_PIXELS",
    "DataSplits",
    "FileList",
    "ImagePool",
    "batched",
    "fixmatch_batches",
    "image_pool",
    "list_files",
    "load_data",
    "one_hot_labels",
    "read_batches",
    "semi_supervised_batches",
    "simclr_batches",
    "with_pseudo_labels",
]
