"""`model_card.json`: how to feed each exported format, next to the files.

One card per run folder lists every format written there with its input
contract (name, layout, dtype, value range, size, channels), its outputs
and the class names, so a phone app or a serving client is written
against the card, not against the training code.
"""

import json
import os

from kzoo.errors import KzooError, shortened
from kzoo.outputs import write_json
from kzoo.reading import read_text

CARD_FILE = "model_card.json"
_CHANNELS = {1: "grayscale", 3: "RGB", 4: "RGBA"}
# What a card or a run's config.json may weigh (the names of 21,841 ImageNet
# classes take about 300 kB).
RECORD_MAX_BYTES = 4 << 20  # as kzoo.run.config.CONFIG_MAX_BYTES


def tensor_input(model):
    """The float-tensor input contract of `model` (Keras, LiteRT, ONNX)."""
    height, width, channels = model.input_shape[1:]
    return {
        "name": "images",
        "dtype": "float32",
        "shape": [None, height, width, channels],
        "layout": "NHWC (batch, height, width, channels); any batch size",
        "value_range": [0, 255],
        "channels": _CHANNELS.get(channels, f"{channels} channels"),
        "preprocessing": "inside the model (its scaling, mean subtraction or "
                         "channel order); decode and resize to the size "
                         "above before",
    }


def encoded_input(model):
    """The contract of the SavedModel's `serving_default`."""
    return {
        "name": "images",
        "dtype": "string",
        "shape": [None],
        "content": "encoded JPEG, PNG, BMP, GIF or WebP file bytes (REST: "
                   "{\"b64\": ...}); any size and channels, decoded, converted "
                   "and resized in the graph",
    }


def outputs(class_names, kinds):
    """`{output name: description}` per task of `class_names`."""
    names = class_names if isinstance(class_names, dict) else {"": class_names}
    result = {}
    for key, classes in names.items():
        prefix = f"{key}_" if key else ""
        size = len(classes)
        described = {
            "logits": f"float32 [N, {size}]",
            "probabilities": f"float32 [N, {size}] (softmax of the logits)",
            "class_ids": "int64 [N] (argmax)",
            "classes": "string [N] (the class name of class_ids)",
        }
        result.update((prefix + k, described[k]) for k in kinds)
    return result


def describe(model, written, class_names, out):
    """The card's `formats` section for the files in `written`."""
    tensor = tensor_input(model)
    both = ("logits", "probabilities")
    every = ("logits", "probabilities", "class_ids", "classes")
    formats = {}
    for name, path in written.items():
        entry = {"path": os.path.relpath(path, out)}
        if name == "savedmodel":
            entry["signatures"] = {
                "serving_default": {"input": encoded_input(model),
                                    "outputs": outputs(class_names, every)},
                "serving_tensors": {"input": {**tensor, "shape": [
                    None, None, None, None], "preprocessing": "resized and "
                    "converted in the graph; any size, 1, 3 or 4 channels"},
                    "outputs": outputs(class_names, every)},
            }
        elif name == "keras":
            entry.update(input=tensor, outputs="logits (the model's output)")
        elif name == "litert":
            entry.update(input=tensor, outputs=outputs(class_names, both),
                         runtime="ai_edge_litert.interpreter.Interpreter "
                                 "(resize_tensor_input for a batch)")
        elif name == "onnx":
            entry.update(input=tensor, outputs=outputs(class_names, both),
                         runtime="onnxruntime.InferenceSession")
        formats[name] = entry
    return formats


def write_card(model, out, class_names, written):
    """Write (or update) `out/model_card.json` with the formats in
    `written` (`{format: path}`); its path.

    A card there that is not one kzoo can read (`read_card` refuses it) is
    replaced by the new card, not merged: it is this folder's own output.
    """
    path = os.path.join(out, CARD_FILE)
    try:
        card = read_card(out) or {}
    except KzooError:
        card = {}
    card["model"] = model.name
    card["class_names"] = class_names
    formats = card.get("formats")
    card["formats"] = formats if isinstance(formats, dict) else {}
    card["formats"].update(
        describe(model, {k: v for k, v in written.items() if k != "card"},
                 class_names, out))
    write_json(path, card)
    return path


def recorded_class_names(*folders):
    """The class names a run recorded in the first of `folders` that has
    them (`model_card.json`, which has them per output, else
    `config.json`), or None.

    Returns:
        A list of names, or (a multi-task export) a dict of such lists by
        task; None when no file records any.

    Raises:
        KzooError: Naming the file, when one of them is not kzoo's: larger
            than `RECORD_MAX_BYTES`, not JSON, not a JSON object, or with
            `class_names` that are not names.
    """
    for folder in folders:
        for name in (CARD_FILE, "config.json"):
            path = os.path.join(folder, name)
            if os.path.isfile(path):
                names = _class_names(read_record(path), path)
                if names:
                    return names
    return None


def read_card(out):
    """The card in `out`, or None.

    Raises:
        KzooError: The card is not one kzoo wrote (see `read_record`).
    """
    path = os.path.join(out, CARD_FILE)
    if not os.path.isfile(path):
        return None
    return read_record(path)


def read_record(path):
    """The JSON object in `path`, a file kzoo wrote next to a model
    (`model_card.json`, `config.json`).

    Raises:
        KzooError: Naming `path`: it is larger than `RECORD_MAX_BYTES`,
            does not parse, nests too deeply or holds no JSON object.
    """
    text = read_text(path, RECORD_MAX_BYTES, "model record")
    try:
        record = json.loads(text)
    except RecursionError:
        raise KzooError(f"{path} is nested too deeply to be a kzoo "
                        "model_card.json or config.json.") from None
    except ValueError as err:
        raise KzooError(f"{path} is not valid JSON ({err}); expected the "
                        "model_card.json or config.json a kzoo run writes."
                        ) from None
    if not isinstance(record, dict):
        raise KzooError(f"{path} must hold a JSON object (a kzoo run's record). "
                        f"Received: a {type(record).__name__}")
    return record


def _class_names(record, path):
    """`record["class_names"]`: None, a list of names or a dict of such
    lists by task (an LwF export)."""
    names = record.get("class_names")
    if names is None or names == [] or names == {}:
        return None
    if isinstance(names, dict) and names and all(
            isinstance(k, str) and _is_names(v) for k, v in names.items()):
        return names
    if _is_names(names):
        return names
    raise KzooError(
        f"{path}: class_names must be a list of class names (strings), or "
        "one such list per task. Received: "
        f"{shortened(names)}")


def _is_names(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
