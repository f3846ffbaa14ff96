"""Learning without Forgetting: `kzoo lwf` (Li & Hoiem 2018).

A trained model gets a new head for a new task. The methods (the paper's
Table 1 on our data) all start from the same warm-up: backbone and old head
frozen, the new head trained for --warmup-epochs.

- feature: stop after the warm-up (feature extraction);
- finetune: then train backbone + new head on the new task (old head fixed);
- lwf: then train everything with the new-task loss plus --old-loss-weight
  times the T²-scaled distillation to the old head's recorded outputs.

Old-task accuracy is measured on the old classes' test split, which no
method sees. Each method exports one SavedModel serving both tasks
(`kzoo evaluate --task old|new` scores one) under --out/<method>.
"""

import dataclasses
import os

import keras

from kzoo.data import batched
from kzoo.errors import KzooError
from kzoo.outputs import write_json
from kzoo.run import finish, fitting, inputs, progress, sources
from kzoo.run.commands.lwf import LWF_METHODS
from kzoo.run.exporting import saved_model_note, write_exports
from kzoo.run.result import RunResult
from kzoo.run.session import session
from kzoo.training import LwFModel


def lwf(config):
    """Add the task of --classes to --old-model by each --method.

    Args:
        config: A `RunConfig` of `lwf` (`kzoo.run.configure("lwf", ...)`).

    Returns:
        `RunResult`; `report` is `lwf.json` (the old model's old-task
        accuracy and a row per method). With one --method, `metrics`
        (`{"new_task": ..., "old_task": ...}`, its `metrics.json`),
        `saved_model` and `model` are that method's; with `all` they are
        None.

    Raises:
        KzooError: --old-classes does not match the old model's outputs, or
            the old model has no Keras layers.
    """
    with session(config) as run:
        old_model = sources.load_trained(config.old_model, "old model")
        check_old_classes(old_model, config)
        config, data = inputs.load_data_for_model(config, old_model)
        _, old_data = inputs.load_data_for_model(
            config, old_model, classes=config.old_classes, labels_per_class=None,
            label_fraction=None)
        LwFModel(old_model, data.num_classes)  # a model it cannot cut fails here
        out = sources.output_dir(run, config, data)
        inputs.describe_data(data)
        before = old_task_before(old_model, config, old_data)
        methods = LWF_METHODS if config.method == "all" else (config.method,)
        table = {"old_task_accuracy_before": before, "methods": {}}
        for method in methods:
            row, result = run_method(method, old_model, config, data, old_data,
                                     os.path.join(out, method))
            row["old_task_drop"] = before - row["old_task_accuracy"]
            table["methods"][method] = row
        write_json(os.path.join(out, "lwf.json"), table)
    print_table(table)
    if len(methods) > 1:
        return RunResult("lwf", out, report=table)
    return dataclasses.replace(result, out=out, report=table)


def check_old_classes(old_model, config):
    """Check that --old-classes names one class per output of the old model.

    Raises:
        KzooError: It names another number of classes.
    """
    if old_model.output_shape[-1] != len(config.old_classes):
        raise KzooError(f"The old model has {old_model.output_shape[-1]} classes; "
                        f"--old-classes names {len(config.old_classes)}.")


def old_task_before(old_model, config, old_data):
    """The old model's accuracy on the whole old-task test split (also with
    --smoke: it is the reference of every method's drop)."""
    old_test = batched(old_data.test, config.batch_size)
    report = finish.evaluate(old_model, old_test, old_data.class_names)
    progress.say("old model on the old task: "
                 f"{progress.number(report['test_accuracy'])}")
    return report["test_accuracy"]


def run_method(method, old_model, config, data, old_data, out):
    """Warm up and (but for `feature`) train jointly, from the same seed.

    Returns:
        `(row, result)`: the method's table row and its `RunResult`.
    """
    keras.utils.set_random_seed(config.seed)
    weight = 0.0 if method == "finetune" else config.old_loss_weight
    model = LwFModel(old_model, data.num_classes, temperature=config.temperature,
                     old_loss_weight=weight,
                     label_smoothing=config.label_smoothing)
    recorded = dataclasses.replace(
        data, train=model.record_old_outputs(data.train),
        val=model.record_old_outputs(data.val) if data.val is not None else None)
    finish.write_config(config, data, out, method=method)
    model.freeze(backbone=True, old_head=True)
    progress.banner(f"{method}: warm-up, new head only: "
                    f"{sources.parameters(model.network)}")
    fitting.compile_model(model, config, data.counts["train"],
                          epochs=config.warmup_epochs)
    fitting.fit(model, config, recorded, out, epochs=config.warmup_epochs,
                backup="backup_warmup", phase=f"{method} warm-up")
    if method != "feature":
        model.freeze(backbone=False, old_head=method == "finetune")
        fixed = ", old head fixed" if method == "finetune" else ""
        progress.banner(f"{method}: joint training{fixed}: "
                        f"{sources.parameters(model.network)}")
        fitting.compile_model(model, config, data.counts["train"])
        fitting.fit(model, config, recorded, out, backup="backup_joint",
                    phase=f"{method} joint")
    return finish_both_tasks(method, model.network, config, data, old_data, out)


def finish_both_tasks(method, network, config, data, old_data, out):
    """Score both tasks, write metrics.json, export one SavedModel for both.

    Returns:
        `(row, result)`: the table row and the method's `RunResult`.
    """
    new = finish.evaluate(network, inputs.test_dataset(data, config),
                          data.class_names, output="new")
    old = finish.evaluate(network, inputs.test_dataset(old_data, config),
                          old_data.class_names, output="old")
    metrics = {"new_task": new, "old_task": old}
    write_json(os.path.join(out, "metrics.json"), metrics)
    written = write_exports(network, config.export, out,
                            {"old": old_data.class_names, "new": data.class_names})
    version_dir = written.get("savedmodel")
    if version_dir:
        finish.record_with_version(out, version_dir)
    progress.say(f"{method}: new task {progress.number(new['test_accuracy'])}, "
                 f"old task {progress.number(old['test_accuracy'])}; "
                 f"{saved_model_note(version_dir)}")
    row = {"new_task_accuracy": new["test_accuracy"],
           "old_task_accuracy": old["test_accuracy"], "saved_model": version_dir}
    return row, RunResult("lwf", out, metrics, version_dir, model=network)


def print_table(table):
    """New-task accuracy, old-task accuracy and drop of every method."""
    progress.say(f"\n{'method':<10} {'new task':>9} {'old task':>9} {'old drop':>9}")
    for method, row in table["methods"].items():
        progress.say(f"{method:<10} {row['new_task_accuracy']:>9.4f} "
                     f"{row['old_task_accuracy']:>9.4f} {row['old_task_drop']:>9.4f}")
