"""Predicting new, unlabelled images with a trained model: `kzoo predict`."""

import contextlib
import csv
import dataclasses
import json
import math
import os
import re
import stat

import keras
import numpy as np

from kzoo.data.files import list_files, read_batches
from kzoo.errors import KzooError
from kzoo.export import KERAS_MODEL_FILE, load_serving_signature, versions
from kzoo.export.card import CARD_FILE, recorded_class_names
from kzoo.outputs import check_user_file, csv_cell, user_file
from kzoo.run import progress
from kzoo.run.result import RunResult
from kzoo.training import load_model_source

SMOKE_BATCHES = 2
SHOWN_SKIPPED = 5  # skipped files listed in the summary
SHOWN_CLASSES = 10  # classes whose top-1 count the summary gives
# How a file predict wrote begins: the CSV header, or a JSON list of records.
_PREDICTIONS_HEAD = re.compile(
    rb'path,class_1,probability_1,|\[\s*(\{"path": |\]\s*$)')


@dataclasses.dataclass
class Predictor:
    """A loaded model and what feeding it takes.

    Attributes:
        path: The SavedModel version folder or `.keras` file it came from.
        kind: `"SavedModel"` or `".keras"`.
        model: The Keras model (logits out).
        class_names: Its classes, in output order.
        note: Why the class names are `0, 1, ...`, or None.
    """

    path: str
    kind: str
    model: object
    class_names: list
    note: str = None

    @property
    def size(self):
        return tuple(self.model.input_shape[1:3])

    @property
    def channels(self):
        return self.model.input_shape[3]

    def probabilities(self, batch):
        """float32 softmax of the logits of a model-input batch, as the
        export's signatures compute it (`kzoo.export.saved_model`)."""
        logits = self.model(batch, training=False)
        probs = keras.ops.softmax(keras.ops.cast(logits, "float32"), axis=-1)
        return keras.ops.convert_to_numpy(probs)


def predict(config):
    """Predict the classes of the images under --data with --model.

    Images are decoded and resized as the export's `serving_default` does,
    streamed in batches; a file that is refused or does not decode is
    counted and written with its reason in the `error` field.

    --out is written as `kzoo.outputs.user_file` does: a named pipe, a
    character device (`/dev/null`) or `/dev/stdout` is written to in place;
    a regular file is replaced atomically, keeping its permissions. An
    --out among the inputs is refused, unless it is the predictions file of
    an earlier run (it begins as predict's CSV or JSON does) or empty: that
    one is left out of the inputs and replaced. In CSV, a text cell (path, class
    name, error) that begins with `=`, `+`, `-`, `@`, a tab or a carriage
    return gets a leading `'`, so that a spreadsheet shows it as text and
    never runs it as a formula (OWASP's advice on CSV injection); JSON
    holds the text as it is.

    Returns:
        `RunResult` whose `metrics` hold `num_predicted`, `num_skipped`,
        `counts` (top-1 predictions per class) and `skipped` (path, error).

    Raises:
        KzooError: --out not writable (its folder missing or read-only, a
            folder, one of the input images), no model at --model, a --data
            item matching nothing, or --top-k above the number of classes;
            all before any image is read. A failed write (a full disk) names
            --out.
    """
    out = _output_path(config.out, config.format)
    files = _input_files(config.data, out)
    predictor = load_predictor(config.model)
    num_classes = len(predictor.class_names)
    if config.top_k > num_classes:
        raise KzooError(f"--top-k must be at most the model's {num_classes} "
                        f"classes. Received: top_k={config.top_k}")
    progress.say(f"model: {predictor.path} ({predictor.kind}, {num_classes} "
                 f"classes, input {predictor.size[0]}x{predictor.size[1]}x"
                 f"{predictor.channels})")
    if predictor.note:
        progress.say(f"  note: {predictor.note}")
    progress.say(f"files: {len(files):,} under {len(config.data)} --data "
                 f"item{'s' * (len(config.data) != 1)}"
                 + (f"; smoke: {SMOKE_BATCHES} batches only" if config.smoke else ""))
    batches = read_batches(files, predictor.size, predictor.channels,
                           config.batch_size,
                           max_batches=SMOKE_BATCHES if config.smoke else None)
    with _row_writer(out, config.format, config.top_k) as write:
        tally = _predict_batches(predictor, files, batches, config.top_k, write)
    metrics = tally.metrics(predictor.class_names)
    _summarise(metrics, predictor.class_names, out)
    return RunResult("predict", out, metrics, predictor.path)


def _output_path(out, fmt):
    """--out, checked (`kzoo.outputs.check_user_file`); by default
    `predictions.<format>`."""
    if out is None:
        out = f"predictions.{fmt}"
    check_user_file(out, "--out")
    return out


def _input_files(data, out):
    """The files under --data, less --out if it is an earlier run's
    predictions, an empty file, a pipe or a device (`list_files(exclude=...)`).

    Raises:
        KzooError: --out is a file among the inputs that predict did not
            write: replacing it would destroy an input.
    """
    try:
        info = os.stat(out)
    except OSError:
        return list_files(data)  # nothing there: no input to replace
    if (not stat.S_ISREG(info.st_mode) or info.st_size == 0
            or _written_by_predict(out)):
        return list_files(data, exclude=[out, os.path.realpath(out)])
    files = list_files(data)
    for path in files.paths:
        try:
            found = os.stat(path)
        except OSError:
            continue
        if (found.st_dev, found.st_ino) == (info.st_dev, info.st_ino):
            raise KzooError(
                f"--out is one of the input files ({path}): predict would "
                "replace it with its predictions. Expected an --out that is "
                "not under --data, or the predictions file of an earlier run. "
                f"Received: --out {out}")
    return files


def _written_by_predict(path):
    """Whether the file at `path` begins as predict's CSV or JSON does."""
    try:
        with open(path, "rb") as f:
            return bool(_PREDICTIONS_HEAD.match(f.read(64)))
    except OSError:
        return False


def load_predictor(path):
    """A `Predictor` for a run folder (its latest SavedModel version, else
    its `model.keras`), a SavedModel version folder or a `.keras` file.

    Class names come from the `config.json` or `model_card.json` beside the
    Keras model (a version folder's `assets.extra/`), else from the
    SavedModel's `serving_default`, else they are `0, 1, ...`.

    Raises:
        KzooError: Nothing loadable at `path`, a SavedModel without its Keras
            model, or a model predict cannot feed (several outputs, an input
            that is not a fixed-size 1- or 3-channel image).
    """
    kind, source = resolve_model(path)
    if kind == "SavedModel":
        keras_file = os.path.join(source, KERAS_MODEL_FILE)
        if not os.path.isfile(keras_file):
            raise KzooError(
                f"The SavedModel at {source} lacks its Keras model: predict needs "
                f"the {KERAS_MODEL_FILE} kzoo exports write. Received: "
                f"model={path!r}")
    else:
        keras_file = source
    model = load_model_source(keras_file)
    _check_model(model, path)
    num_classes = model.output_shape[-1]
    names, note = _class_names(os.path.dirname(keras_file), num_classes)
    if note and kind == "SavedModel":
        names, note = _signature_class_names(source, num_classes) or (names, note)
    return Predictor(source, kind, model, names, note)


def resolve_model(path):
    """`(kind, path)`: `("SavedModel", version folder)` or `(".keras", file)`.

    A run folder resolves to its highest numbered SavedModel version (TF
    Serving's choice), else to the `model.keras` in it.
    """
    path = os.fspath(path)
    if os.path.isfile(path) and path.endswith(".keras"):
        return ".keras", path
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return "SavedModel", path
    numbered = [v for v in versions(path)
                if os.path.isfile(os.path.join(path, str(v), "saved_model.pb"))]
    if numbered:
        return "SavedModel", os.path.join(path, str(numbered[-1]))
    if os.path.isfile(os.path.join(path, "model.keras")):
        return ".keras", os.path.join(path, "model.keras")
    found = "nothing exists there" if not os.path.exists(path) else (
        "it is none of these")
    raise KzooError(
        "Expected --model to be a run folder (with numbered SavedModel versions "
        f"or a model.keras), a SavedModel version folder or a .keras file; "
        f"{found}. Received: model={path!r}")


def _check_model(model, path):
    output = getattr(model, "output", None)
    if isinstance(output, (dict, list, tuple)):
        outputs = sorted(output) if isinstance(output, dict) else len(output)
        raise KzooError(
            "predict takes a model with one output (one task); this one has "
            f"outputs {outputs}. Received: model={path!r}")
    shape = tuple(model.input_shape[1:])
    if len(shape) != 3 or None in shape or shape[-1] not in (1, 3):
        raise KzooError(
            "predict needs a model taking fixed-size images with 1 or 3 "
            f"channels. Received: input_shape={model.input_shape}")


def _class_names(folder, num_classes):
    """`(names, note)`: the names the run recorded beside the model
    (`kzoo.export.card.recorded_class_names`), else `("0", "1", ...)` and a
    note saying so."""
    names = recorded_class_names(folder)
    if names is None:
        return ([str(i) for i in range(num_classes)],
                (f"no class names found ({CARD_FILE} or config.json beside the "
                 f"model): classes are named 0-{num_classes - 1}"))
    if not isinstance(names, list) or len(names) != num_classes:
        raise KzooError(
            f"The class names recorded in {folder} do not fit the model's "
            f"{num_classes} outputs. Received: class_names={names!r}")
    return [str(n) for n in names], None


def _signature_class_names(version_dir, num_classes):
    """`(names, None)`: the names `serving_default` returns as `classes` (the
    one string vector of `num_classes` it captures), or None."""
    serve = load_serving_signature(version_dir)
    found = [t.numpy() for t in serve.captured_inputs
             if t.dtype.name == "string" and t.shape == (num_classes,)]
    if len(found) != 1:
        return None
    return [n.decode() for n in found[0]], None


class _Tally:
    """What a prediction run counts, as it goes."""

    def __init__(self, num_classes):
        self.top1 = np.zeros(num_classes, np.int64)
        self.skipped = []
        self.done = 0

    def metrics(self, class_names):
        counts = {name: int(n) for name, n in zip(class_names, self.top1)}
        return {"num_predicted": int(self.top1.sum()),
                "num_skipped": len(self.skipped), "counts": counts,
                "skipped": self.skipped}


def _predict_batches(predictor, files, batches, k, write):
    """Run each batch through the model; each file's row to `write`, in file
    order."""
    tally = _Tally(len(predictor.class_names))
    step = max(1, math.ceil(len(files) / progress.MAX_LOG_LINES))
    for batch in batches:
        rows = {i: (files.paths[i], None, error) for i, error in batch.errors.items()}
        if len(batch.indices):
            probs = predictor.probabilities(batch.images)
            top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
            for i, ids, p in zip(batch.indices, top, probs):
                # float32's shortest repr: what the model computed, unpadded
                picks = [(predictor.class_names[c], float(str(p[c]))) for c in ids]
                rows[int(i)] = (files.paths[i], picks, None)
            np.add.at(tally.top1, top[:, 0], 1)
        tally.skipped += [{"path": files.paths[i], "error": error}
                          for i, error in batch.errors.items()]
        for i in sorted(rows):
            write(*rows[i])
        before, tally.done = tally.done, max(rows) + 1
        if tally.done // step > before // step and tally.done < len(files):
            progress.say(f"predict: {tally.done:,}/{len(files):,} files, "
                         f"{len(tally.skipped):,} skipped")
    return tally


def _fields(k):
    """The record fields: path, class_1, probability_1, ..., error."""
    ranked = [f"{kind}_{j}" for j in range(1, k + 1)
              for kind in ("class", "probability")]
    return ["path", *ranked, "error"]


@contextlib.contextmanager
def _row_writer(path, fmt, k):
    """Yield `write(path, picks, error)` (`picks`: `[(class, probability)]`
    or None), streaming CSV rows (`csv_cell`) or a JSON list of records to
    --out (`kzoo.outputs.user_file`: a regular file is replaced only once
    complete)."""
    fields = _fields(k)
    written = [0]
    with user_file(path, "w", newline="", option="--out") as f:
        table = csv.writer(f) if fmt == "csv" else None
        if table is not None:
            table.writerow(fields)
        else:
            f.write("[")

        def write(file_path, picks, error):
            values = [file_path]
            for pick in picks or [(None, None)] * k:
                values += pick
            values.append(error)
            if table is not None:
                table.writerow([csv_cell(v) for v in values])
            else:
                f.write(("," if written[0] else "") + "\n  "
                        + json.dumps(dict(zip(fields, values))))
            written[0] += 1

        yield write
        if table is None:
            f.write("\n]\n" if written[0] else "]\n")


def _summarise(metrics, class_names, out):
    skipped = metrics["skipped"]
    progress.say(f"predicted {metrics['num_predicted']:,} images; skipped "
                 f"{len(skipped):,} file{'s' * (len(skipped) != 1)}"
                 + (":" if skipped else ""))
    for entry in skipped[:SHOWN_SKIPPED]:
        progress.say(f"  skipped: {entry['path']}: {entry['error']}")
    if len(skipped) > SHOWN_SKIPPED:
        progress.say(f"  ... and {len(skipped) - SHOWN_SKIPPED:,} more (their "
                     f"error is in {out})")
    counts = metrics["counts"]
    shown = sorted(counts, key=lambda c: -counts[c])[:SHOWN_CLASSES]
    progress.say("top-1 counts: " + ", ".join(f"{c} {counts[c]:,}"
                                              for c in class_names if c in shown)
                 + (f" (and {len(counts) - len(shown):,} classes more)"
                    if len(counts) > len(shown) else ""))
    progress.say(f"wrote {out}")
