"""Scoring an export through its serving signature: `kzoo evaluate`."""

import os

import numpy as np

from kzoo.analysis import classification_report
from kzoo.data import load_data
from kzoo.errors import KzooError
from kzoo.export import load_serving_signature, versions
from kzoo.export.card import read_record
from kzoo.outputs import check_user_file, user_file, write_json_to
from kzoo.run import inputs, progress
from kzoo.run.config import RECORDED_KEY, first_line
from kzoo.run.result import RunResult

SMOKE_BATCHES = 2
# Scored when neither --data nor the run's config.json names the data.
DEFAULT_DATA = "digits"
# What a run's config.json says of its data that picks the test split (the
# split is held out with a fixed seed: --seed and the budget do not move it).
RECORDED_DATA = ("data", "data_dir", "classes")


def evaluate(config):
    """Score --model's `serving_default` on the test split of --data.

    Without --data, the data the run recorded in its `config.json` (see
    `data_of_run`), else `DEFAULT_DATA`; the first line says which.
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
            (a full disk) names --out. The run's recorded data cannot be
            used (the message names its config.json).
    """
    if config.out:
        check_user_file(config.out, "--out")
    model_dir = resolve_version(config.model)
    config, record = data_of_run(config, model_dir)
    # The image size is irrelevant here: the signature decodes and resizes.
    try:
        data = load_data(config.data, data_dir=config.data_dir,
                         download=config.download, seed=config.seed,
                         classes=config.classes)
    except KzooError as err:
        if record is None:
            raise
        raise KzooError(f"{first_line(err)} (the data recorded in {record}; "
                        "--data sets another)") from err
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


def data_of_run(config, model_dir):
    """`config` with the data to score, and the `config.json` it came from.

    --data given: `config` as it is. Else the `RECORDED_DATA` of the run's
    record (`recorded_run`), each checked as its flag would be; --data-dir
    and --classes given keep their values. With no record,
    `DEFAULT_DATA`. Says which in one line.

    Returns:
        `(config, path of the config.json or None)`.

    Raises:
        KzooError: The record's data values are ones their flags would
            refuse (the file is named).
    """
    if config.data is not None:
        return config, None
    path, record = recorded_run(model_dir)
    if record is None:
        progress.say(f"data: '{DEFAULT_DATA}' (the default: no kzoo run's "
                     f"config.json next to {model_dir} records its data; "
                     "--data sets it)")
        return config.replace(data=DEFAULT_DATA), None
    values = {name: config.command.option(name).convert(record.get(name), path)
              for name in RECORDED_DATA if config.get(name) is None}
    progress.say(f"data: {values['data']!r} (recorded by the run in {path}; "
                 "--data overrides)")
    return config.replace(**values), path


def recorded_run(model_dir):
    """`(path, record)` of the `config.json` a kzoo run recorded for the
    SavedModel `model_dir` (its copy in `assets.extra/`, else the run
    folder's), or `(None, None)`.

    A file there that is not a kzoo run's record (not JSON, no
    `RECORDED_KEY`, no `data`) is passed over: the folder above a
    SavedModel need not be kzoo's.
    """
    for path in (os.path.join(model_dir, "assets.extra", "config.json"),
                 os.path.join(os.path.dirname(os.path.abspath(model_dir)),
                              "config.json")):
        if not os.path.isfile(path):
            continue
        try:
            record = read_record(path)
        except KzooError:
            continue
        if RECORDED_KEY in record and record.get("data") is not None:
            return path, record
    return None, None


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
