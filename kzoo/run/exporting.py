"""What a run writes at its end: the formats --export names."""

import os

from kzoo.export import card, export_saved_model, portable
from kzoo.outputs import save_keras


def write_exports(model, formats, out, class_names, config=None):
    """Write `model` in each of `formats` under `out`, and `model_card.json`.

    Args:
        model: The trained Keras model (logits out).
        formats: Names from `kzoo.run.types.EXPORT_FORMATS`, in order.
        out: The run folder: `model.keras`, `model.tflite`, `model.onnx`
            and `model_card.json` go in it, the SavedModel in its next
            version folder.
        class_names: The model's class names (a dict of lists per output
            for a multi-output model).

    Returns:
        `{format: path written}`; the SavedModel's version folder under
        `"savedmodel"`.
    """
    written = {}
    for name in formats:
        if name == "savedmodel":
            written[name] = export_saved_model(model, out, class_names)
        elif name == "keras":
            written[name] = os.path.join(out, "model.keras")
            save_keras(model, written[name])
        elif name == "litert":
            written[name] = portable.export_litert(
                model, os.path.join(out, "model.tflite"))
        elif name == "onnx":
            written[name] = portable.export_onnx(
                model, os.path.join(out, "model.onnx"))
    written["card"] = card.write_card(model, out, class_names, written)
    return written


def saved_model_note(version_dir):
    """`'SavedModel: <folder>'` for a run's last line, or what replaced it."""
    if version_dir:
        return f"SavedModel: {version_dir}"
    return "no SavedModel (not in --export)"
