"""What a run writes at its end: the formats --export names."""

import contextlib
import errno
import os

import tensorflow as tf

from kzoo.export import card, export_saved_model, portable
from kzoo.outputs import save_keras, write_error

# TensorFlow's file-system errors end `<path>; <strerror>`: the reasons a
# SavedModel write fails for lack of room or permission.
_FILE_SYSTEM_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES,
                       errno.EPERM, errno.EFBIG)


def write_exports(model, formats, out, class_names, config=None,
                  flag="--export"):
    """Write `model` in each of `formats` under `out`, and `model_card.json`.

    What every format needs is imported first (`portable.check_dependencies`):
    a missing package leaves no file of any format.

    Args:
        model: The trained Keras model (logits out).
        formats: Names from `kzoo.run.types.EXPORT_FORMATS`, in order.
        out: The run folder: `model.keras`, `model.tflite`, `model.onnx`
            and `model_card.json` go in it, the SavedModel in its next
            version folder.
        class_names: The model's class names (a dict of lists per output
            for a multi-output model).
        flag: The option that named `formats`, for the messages.

    Returns:
        `{format: path written}`; the SavedModel's version folder under
        `"savedmodel"`.

    Raises:
        KzooError: A format's package is missing (nothing is written), or
            a write failed (a full disk, a read-only folder): the message
            names the file (or SavedModel folder) and no part of it is left.
    """
    portable.check_dependencies(formats, flag)
    written = {}
    for name in formats:
        if name == "savedmodel":
            with _saved_model_errors(out):
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


@contextlib.contextmanager
def _saved_model_errors(out):
    """A failed SavedModel write as a `KzooError` naming it: an `OSError`
    (Keras writing `model.keras` into it) or TensorFlow's own error for a
    full disk or a read-only folder (`export_saved_model` has already
    removed its temporary folder)."""
    what = f"a SavedModel version under {out}"
    try:
        yield
    except OSError as err:
        raise write_error(out, err, what=what) from err
    except tf.errors.OpError as err:
        reasons = [code for code in _FILE_SYSTEM_ERRNOS
                   if f"; {os.strerror(code)}" in (err.message or "")]
        if not reasons:
            raise
        cause = OSError(reasons[0], os.strerror(reasons[0]))
        raise write_error(out, cause, what=what) from err
