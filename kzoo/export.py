"""SavedModel export with TF Serving signatures.

`export_saved_model(model, base_dir, class_names)` writes the next integer
version folder (`base_dir/1`, `base_dir/2`, ...), the layout TF Serving
watches. The folder is written under a temporary name in `base_dir` and
renamed at the end, so a server never sees a half-written version.

Signatures:
- `serving_default(images: tf.string [N])`: encoded JPEG/PNG/BMP/GIF images;
  decode, channel conversion and resize happen in the graph.
- `serving_tensors(images: float32 [N, H, W, C])`: pixel values in [0, 255],
  any size and 1, 3 or 4 channels; converted and resized in the graph.
Both return `logits` float32 [N, num_classes], `probabilities` float32
[N, num_classes], `class_ids` int64 [N] and `classes` string [N]. A model
with several outputs (a dict of logits per task, e.g. `LwFModel.network`)
returns these four per task, prefixed: `old_classes`, `new_classes`, ...

The version folder also holds the Keras model as `assets.extra/model.keras`
(TF Serving ignores `assets.extra`), so an export can be a transfer-learning
source or a teacher with its layers intact (`kzoo.training.load_model_source`).
"""

import os
import re
import shutil
import tempfile

import keras
import tensorflow as tf

from kzoo.data import images as image_ops

SERVING_DEFAULT = "serving_default"
SERVING_TENSORS = "serving_tensors"
KERAS_MODEL_FILE = os.path.join("assets.extra", "model.keras")


def next_version(base_dir):
    """The next TF Serving version number under `base_dir` (1 if none)."""
    if not os.path.isdir(base_dir):
        return 1
    versions = [int(d) for d in os.listdir(base_dir) if re.fullmatch(r"\d+", d)]
    return max(versions, default=0) + 1


def output_classes(model, class_names):
    """`{output name: class names}` checked against the model's outputs.

    A single-output model has the output name `""`; `class_names` is then a
    list. A model returning a dict of logits takes a dict of lists.
    """
    outputs = getattr(model, "output", None)
    if isinstance(outputs, dict):
        shapes = {key: tensor.shape for key, tensor in outputs.items()}
    else:
        shapes = model.output_shape
    if not isinstance(shapes, dict):
        shapes, class_names = {"": shapes}, {"": class_names}
    elif not isinstance(class_names, dict) or set(class_names) != set(shapes):
        raise ValueError(
            f"A model with outputs {sorted(shapes)} needs class names for each, "
            f"as a dict. Received: class_names={class_names!r}"
        )
    for key, shape in shapes.items():
        if len(class_names[key]) != shape[-1]:
            raise ValueError(
                f"Got {len(class_names[key])} class names for a model output "
                f"{key!r} with {shape[-1]} classes."
            )
    return class_names


def _serving_functions(model, names_by_output):
    height, width, channels = model.input_shape[1:]
    size = (height, width)
    names = {key: tf.constant([str(c) for c in value])
             for key, value in names_by_output.items()}

    def outputs(batch):
        logits = model(batch, training=False)
        if not isinstance(logits, dict):
            logits = {"": logits}
        result = {}
        for key, value in logits.items():
            prefix = f"{key}_" if key else ""
            value = tf.cast(value, tf.float32)
            probabilities = tf.nn.softmax(value, axis=-1)
            class_ids = tf.argmax(probabilities, axis=-1)
            result[prefix + "logits"] = value
            result[prefix + "probabilities"] = probabilities
            result[prefix + "class_ids"] = class_ids
            result[prefix + "classes"] = tf.gather(names[key], class_ids)
        return result

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="images")])
    def serve_encoded(images):
        batch = tf.map_fn(
            lambda s: image_ops.decode_to_model_input(s, size, channels),
            images,
            fn_output_signature=tf.TensorSpec([height, width, channels], tf.float32),
        )
        return outputs(batch)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None, None], tf.float32, name="images")
        ]
    )
    def serve_tensors(images):
        batch = image_ops.to_model_input(images, size, channels)
        return outputs(tf.ensure_shape(batch, [None, height, width, channels]))

    return serve_encoded, serve_tensors


def export_saved_model(model, base_dir, class_names, version=None,
                       include_keras_model=True):
    """Export `model` with serving signatures as `base_dir/<version>`.

    Args:
        model: A Keras model taking float32 images in [0, 255] of a fixed
            `(height, width, channels)` and returning logits (or a dict of
            logits per task).
        base_dir: The model's TF Serving base folder.
        class_names: Names returned by the `classes` output (a dict of lists
            for a dict-output model).
        version: Version number; the next free one when None.
        include_keras_model: Also write `assets.extra/model.keras`.

    Returns:
        The path of the written version folder.

    Raises:
        FileExistsError: If `version` is given and already exists.
    """
    names_by_output = output_classes(model, class_names)
    os.makedirs(base_dir, exist_ok=True)
    version = next_version(base_dir) if version is None else int(version)
    final = os.path.join(base_dir, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"Version folder already exists: {final}")
    archive = keras.export.ExportArchive()
    archive.track(model)
    serve_encoded, serve_tensors = _serving_functions(model, names_by_output)
    archive.add_endpoint(SERVING_DEFAULT, serve_encoded)
    archive.add_endpoint(SERVING_TENSORS, serve_tensors)
    tmp = tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=base_dir)
    try:
        archive.write_out(tmp, verbose=False)
        if include_keras_model:
            os.makedirs(os.path.join(tmp, os.path.dirname(KERAS_MODEL_FILE)),
                        exist_ok=True)
            model.save(os.path.join(tmp, KERAS_MODEL_FILE))
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_serving_signature(path, name=SERVING_DEFAULT):
    """Load an exported SavedModel and return one of its signatures."""
    loaded = tf.saved_model.load(path)
    if name not in loaded.signatures:
        raise ValueError(
            f"SavedModel at {path} has no signature '{name}'. "
            f"Available: {sorted(loaded.signatures)}"
        )
    return loaded.signatures[name]
