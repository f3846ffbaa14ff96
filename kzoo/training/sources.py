"""Where a pre-trained model comes from: memory, a `.keras` file or a SavedModel.

A user's `.keras` file is checked before Keras opens it
(`kzoo.models.archive.load_keras_file`).
"""

import os

import keras

from kzoo.errors import KzooError
from kzoo.export import KERAS_MODEL_FILE, SERVING_TENSORS
from kzoo.models.archive import load_keras_file


def load_model_source(source):
    """A `keras.Model` from a model, a `.keras` file or a SavedModel folder.

    A SavedModel exported by kzoo carries its Keras model
    (`assets.extra/model.keras`), which is loaded with its layers, so it can
    be cut for transfer learning. Any other SavedModel with a
    `serving_tensors` signature returning `logits` is wrapped as a
    logits-only model (enough for a teacher, not for cutting).

    Args:
        source: A `keras.Model`, or a path to a `.keras` file, a SavedModel
            version folder (`.../1`), or a folder holding `model.keras`.

    Returns:
        A `keras.Model` returning logits.

    Raises:
        KzooError: If nothing loadable is at `source`.
    """
    if isinstance(source, keras.Model):
        return source
    path = os.fspath(source)
    if os.path.isfile(path) and path.endswith(".keras"):
        return load_keras_file(path)
    if os.path.isdir(path):
        for name in (KERAS_MODEL_FILE, "model.keras"):
            candidate = os.path.join(path, name)
            if os.path.isfile(candidate):
                return load_keras_file(candidate)
        if os.path.isfile(os.path.join(path, "saved_model.pb")):
            return SignatureLogits(path)
    raise KzooError(
        "Expected a keras.Model, a .keras file or a SavedModel folder. "
        f"Received: source={source!r}"
    )


def is_layered(model):
    """Whether `model` has Keras layers to cut (not a wrapped SavedModel)."""
    return not isinstance(model, SignatureLogits)


class SignatureLogits(keras.Model):
    """A SavedModel's `serving_tensors` signature as a logits model.

    Only for inference (a teacher): the SavedModel's variables are not
    trainable from Keras.

    Args:
        path: A SavedModel folder whose `serving_tensors` signature takes
            `images` and returns `logits`.
    """

    def __init__(self, path, **kwargs):
        super().__init__(name=kwargs.pop("name", "saved_model"), **kwargs)
        self.source_path = path
        self.layer = keras.layers.TFSMLayer(path, call_endpoint=SERVING_TENSORS)
        endpoint = self.layer.call_endpoint_fn
        concrete = getattr(endpoint, "concrete_functions", None) or [endpoint]
        spec = concrete[0].structured_outputs
        if "logits" not in spec:
            raise KzooError(
                f"SavedModel at {path} returns {sorted(spec)} from "
                f"'{SERVING_TENSORS}', not 'logits'. Export it with kzoo, or "
                "pass the Keras model instead."
            )
        self.num_classes = int(spec["logits"].shape[-1])

    @property
    def output_shape(self):
        return (None, self.num_classes)

    def call(self, images, training=False):
        return self.layer.call_endpoint_fn(images=images)["logits"]
