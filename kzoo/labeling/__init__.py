"""Labelling images in the browser, on the machine that holds them.

`LabelStore` is what labelling does on disk (moves into `train/<class>/`,
a log that can be undone and replayed); `LabelServer` serves it as a page
and a small JSON API on 127.0.0.1 behind a random token (`kzoo label`).
Standard library only: no TensorFlow.
"""

from kzoo.labeling.log import LOG_FILE
from kzoo.labeling.server import LabelServer
from kzoo.labeling.store import LabelError, LabelStore, check_label

__all__ = ["LOG_FILE", "LabelError", "LabelServer", "LabelStore", "check_label"]
