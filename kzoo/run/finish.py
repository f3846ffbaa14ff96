"""The end of a run: score, report, plot, `.keras`, SavedModel; and the
`config.json` it starts with."""

import os
import shutil

import numpy as np

from kzoo import runtime
from kzoo.analysis import classification_report, plot_confusion_matrix
from kzoo.data import batched
from kzoo.outputs import write_json
from kzoo.run import inputs, progress, tensorboard
from kzoo.run.config import record_config
from kzoo.run.exporting import write_exports


def write_config(config, data, out, **extra):
    """The resolved options and data facts as `out/config.json`.

    `--config out/config.json` replays the run: the options are recorded as
    given or resolved (`channels`, and options among `extra` such as
    `input_size`; `out` as the user gave it) and the facts (`command`,
    `class_names`, `counts`, `output_dir`, the rest of `extra`) are listed
    as such (see `config.record_config`).
    """
    os.makedirs(out, exist_ok=True)
    values = config.to_dict()
    if "channels" in values:
        values["channels"] = data.image_shape[-1]
    values.update((k, v) for k, v in extra.items() if k in values)
    facts = {k: v for k, v in extra.items() if k not in values}
    recorded = record_config(values, command=config.command.name,
                             class_names=data.class_names, counts=data.counts,
                             output_dir=out, **facts)
    write_json(os.path.join(out, "config.json"), recorded)
    return recorded


def finish(model, config, data, out, extra=None):
    """Score on the test split, write metrics (with `extra`, a dict of
    more entries) and plot, then the formats of --export (by default
    `.keras` and the SavedModel).

    Returns:
        `(metrics, version_dir)`; `version_dir` is None without a SavedModel.
    """
    metrics = evaluate(model, inputs.test_dataset(data, config), data.class_names)
    metrics["skipped_files"] = len(data.skipped_files)
    metrics["skipped_file_paths"] = data.skipped_files
    metrics["weights_sha256"] = runtime.weights_digest(model)
    metrics.update(extra or {})
    if runtime.is_multi_worker():
        progress.say(f"{runtime.task_name()}: weights sha256 "
                     f"{metrics['weights_sha256']}")
    write_json(os.path.join(out, "metrics.json"), metrics)
    plot_confusion_matrix(metrics["confusion_matrix"], data.class_names,
                          os.path.join(out, "confusion_matrix.png"))
    tensorboard.log_confusion_matrix(out, os.path.join(out, "confusion_matrix.png"))
    tensorboard.log_hparams(out, config, metrics["test_accuracy"])
    written = write_exports(model, config.export, out, data.class_names)
    version_dir = written.get("savedmodel")
    if version_dir:
        record_with_version(out, version_dir)
    return metrics, version_dir


def evaluate(model, test, class_names, output=None):
    """Classification report on `test` (batched, in a fixed order); `output`
    picks a dict-output model's task.

    One `predict` call over the split: a `predict_on_batch` per batch traces
    again for the last, partial batch of every model scored, and TensorFlow
    warns about the retracing.
    """
    y_true = np.concatenate([y for _, y in test.as_numpy_iterator()])
    logits = model.predict(test.map(_images_only), verbose=0)
    if output is not None:
        logits = logits[output]
    report = classification_report(y_true, np.argmax(logits, axis=-1), class_names)
    report["test_accuracy"] = report.pop("accuracy")
    return report


def _images_only(x, y):
    return x


def accuracy(model, dataset, class_names):
    """Accuracy of `model` on a batched `(x, integer y)` dataset, 4 places."""
    report = evaluate(model, dataset, class_names)
    return round(float(report["test_accuracy"]), 4)


def scores(model, config, data):
    """`{"val_accuracy": ... (None without a split), "test_accuracy": ...}`."""
    result = {"val_accuracy": None}
    if data.val is not None:
        result["val_accuracy"] = accuracy(model, batched(data.val, 256),
                                          data.class_names)
    result["test_accuracy"] = accuracy(model, inputs.test_dataset(data, config),
                                       data.class_names)
    return result


def record_with_version(out, version_dir):
    """Keep this run's config and metrics inside its version folder too."""
    extra = os.path.join(version_dir, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    for name in ("config.json", "metrics.json", "model_card.json"):
        if os.path.isfile(os.path.join(out, name)):
            shutil.copy(os.path.join(out, name), os.path.join(extra, name))
