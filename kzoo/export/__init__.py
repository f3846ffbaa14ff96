"""What a trained model is written as: a SavedModel for TF Serving
(`saved_model`), LiteRT and ONNX files for phones, edge devices and other
runtimes (`portable`), and the card that says how to feed each
(`card`)."""

from kzoo.export import card, portable
from kzoo.export.saved_model import (
    KERAS_MODEL_FILE,
    SERVING_DEFAULT,
    SERVING_TENSORS,
    export_saved_model,
    load_serving_signature,
    next_version,
    output_classes,
    versions,
)

__all__ = [
    "card",
    "portable",
    "KERAS_MODEL_FILE",
    "SERVING_DEFAULT",
    "SERVING_TENSORS",
    "export_saved_model",
    "load_serving_signature",
    "next_version",
    "output_classes",
    "versions",
]
