"""Scoring an export through its serving signature: `kzoo evaluate`."""

import os

import numpy as np

from kzoo.analysis import classification_report
from kzoo.data import load_data
from kzoo.errors import KzooError
from kzoo.export import load_serving_signature, versions
from kzoo.outputs import check_user_file, user_file, write_json_to
from kzoo.run import inputs, progress
from kzoo.run.result import RunResult

SMOKE_BATCHES = 2


def evaluate(config):
    """Score --model's `serving_default` on the test split of --data.

    Test images are fed encoded (file bytes, or PNG for in-memory data), as
    TF Serving receives them. Files the data scan skipped are counted,
    listed and recorded (`skipped_files`), never scored.

    --out (optional) is checked before anything is read and written as
    `kzoo.outputs.user_file` does: a pipe or a device (`/dev/null`,
    `/dev/stdout`) is written to, a regular file replaced atomically,
    keeping its permissions.

    Returns:
        `RunResult` whose `metrics` is the classification report (with
        `test_accuracy`).

    Raises:
        KzooError: --out cannot be written (its folder missing or
            read-only, a folder), before anything is read; a failed write
            (a full disk) names --out.
    """
    if config.out:
        check_user_file(config.out, "--out")
    # The image size is irrelevant here: the signature decodes and resizes.
    data = load_data(config.data, data_dir=config.data_dir,
                     download=config.download, seed=config.seed,
                     classes=config.classes)
    model_dir = resolve_version(config.model)
    report = evaluate_saved_model(
        model_dir, data, config.batch_size, config.task,
        max_batches=SMOKE_BATCHES if config.smoke else None)
    report["skipped_files"] = list(data.skipped_files)
    report["test_accuracy"] = report["accuracy"]
    progress.say(f"test accuracy {report['accuracy']:.4f} on "
                 f"{report['num_examples']} images of '{data.name}'; files the "
                 f"data scan skipped: {len(data.skipped_files)}")
    inputs.print_skipped(data)
    for name, acc in report["per_class_accuracy"].items():
        shown = "n/a" if acc is None else progress.number(acc)
        progress.say(f"  {name:>12}: {shown}")
    if config.out:
        with user_file(config.out, option="--out") as f:
            write_json_to(f, report)
    return RunResult("evaluate", config.out, report, model_dir)


def evaluate_saved_model(model_dir, data, batch_size=64, task=None,
                         max_batches=None):
    """Run the test split through the signature; returns the report dict.

    `task` picks the `<task>_classes` output of a multi-task export.
    """
    serve = load_serving_signature(model_dir)
    key = f"{task}_classes" if task else "classes"
    if key not in serve.structured_outputs:
        tasks = sorted(k[:-len("_classes")] for k in serve.structured_outputs
                       if k.endswith("_classes"))
        raise KzooError(
            f"The model has no output '{key}'. "
            + (f"Pick a task with --task: {tasks}." if tasks else "It has one task: "
               "leave out --task.")
        )
    index = {name: i for i, name in enumerate(data.class_names)}
    y_true, y_pred = [], []
    batches = data.test_encoded().batch(batch_size)
    if max_batches is not None:
        batches = batches.take(max_batches)
    for encoded, labels in batches:
        for name in serve(images=encoded)[key].numpy():
            name = name.decode()
            if name not in index:
                raise KzooError(
                    f"The model predicts class '{name}', which the data does not "
                    f"have (data classes: {data.class_names})."
                )
            y_pred.append(index[name])
        y_true.extend(labels.numpy().tolist())
    return classification_report(np.array(y_true), np.array(y_pred), data.class_names)


def resolve_version(path):
    """`path` if it is a SavedModel, else its highest numbered version
    folder (TF Serving's choice).

    Raises:
        KzooError: Neither a SavedModel nor a folder of versions.
    """
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    numbered = [v for v in versions(path)
                if os.path.isfile(os.path.join(path, str(v), "saved_model.pb"))]
    if not numbered:
        raise KzooError(
            f"No SavedModel at {path}: expected a version folder (holding "
            "saved_model.pb) or a base folder of numbered versions.")
    latest = os.path.join(path, str(numbered[-1]))
    progress.say(f"scoring the latest version: {latest}")
    return latest
