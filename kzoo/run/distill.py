"""Knowledge distillation: `kzoo distill` (Hinton et al. 2015).

A teacher (trained here, or loaded) is distilled into a smaller student;
with --compare the student is also trained alone, and the table gives the
test errors of the three and the gap closure `(student alone - distilled) /
(student alone - teacher)`. With --omit-class the class is left out of the
distillation set, and its test accuracy is reported before and after
raising its bias until the student predicts it on the validation images as
often as the teacher does (Hinton et al., section 3).
"""

import dataclasses
import os

import keras
import numpy as np

from kzoo.errors import KzooError
from kzoo.models import list_models
from kzoo.outputs import write_json
from kzoo.run import finish, fitting, inputs, progress, sources
from kzoo.run.result import RunResult
from kzoo.run.session import session
from kzoo.training import Distiller, precompute_teacher_logits
from kzoo.training.bias import add_class_bias, bias_shift_for_share
from kzoo.training.sources import is_layered
from kzoo.training.transfer import copy_model

TEACHER = "teacher"
ALONE = "student_alone"
DISTILLED = "distilled"
CORRECTED = "distilled_bias_corrected"


def distill(config):
    """Distil --teacher into --student and report the gap closed.

    Args:
        config: A `RunConfig` of `distill` (`kzoo.run.configure("distill", ...)`).

    Returns:
        `RunResult`: the distilled student's test metrics, SavedModel and
        model; `report` is `distill.json` (rows, gap closure, size ratio,
        omitted class).

    Raises:
        KzooError: --precompute with --augment, --unlabeled with
            --omit-class, an unknown --omit-class, or a model that cannot
            take the images.
    """
    precompute = check_options(config)
    with session(config) as run:
        keras.utils.set_random_seed(config.seed)
        config, data, teacher = load_teacher_and_data(config)
        check_models(config, data)
        out = sources.output_dir(run, config, data)
        inputs.describe_data(data)
        omit = omitted_index(config, data)
        rows, distiller, metrics = train_models(config, data, teacher, omit,
                                                precompute, out)
        report = summarise(rows, config.omit_class)
        write_json(os.path.join(out, "distill.json"), report)
    print_table(report)
    return RunResult("distill", out, metrics, rows[DISTILLED]["saved_model"],
                     report=report, model=distiller.network)


def train_models(config, data, teacher, omit, precompute, out):
    """Every phase: the teacher (trained unless loaded), the student alone
    (--compare), the distilled student and its bias correction (--omit-class).

    Returns:
        `(rows, distiller, metrics)`: the table rows by name, the trained
        `Distiller` and the distilled student's test metrics.
    """
    rows = {}
    if teacher is None:
        teacher = train_teacher(config, data, os.path.join(out, TEACHER))
    else:
        progress.banner(f"teacher {config.teacher}: {sources.parameters(teacher)}")
    rows[TEACHER] = score_teacher(teacher, config, data, os.path.join(out, TEACHER))
    if config.compare:
        rows[ALONE], _ = train_and_score(
            build_student(config, data), config, data, os.path.join(out, ALONE),
            phase="student alone")
    distiller = Distiller(
        teacher=teacher, student=build_student(config, data),
        temperature=config.temperature,
        student_loss_weight=config.student_loss_weight,
        label_smoothing=config.label_smoothing)
    transfer = distillation_set(data, teacher, omit, precompute, config.unlabeled)
    rows[DISTILLED], metrics = train_and_score(
        distiller, config, transfer, os.path.join(out, DISTILLED),
        phase="distilled student")
    if omit is not None:
        rows[CORRECTED] = bias_corrected(distiller, teacher, config, data, omit,
                                         os.path.join(out, CORRECTED))
    return rows, distiller, metrics


def check_options(config):
    """Whether the teacher runs once before training (--precompute).

    Raises:
        KzooError: Options that do not go together.
    """
    precompute = (config.augment == "none" if config.precompute is None
                  else config.precompute)
    if precompute and config.augment != "none":
        raise KzooError("--precompute needs --augment none: cached teacher logits "
                        "belong to the unaugmented images.")
    if config.unlabeled and config.omit_class is not None:
        raise KzooError("--unlabeled and --omit-class do not mix: the unlabelled "
                        "pool may hold the omitted class.")
    return precompute


def load_teacher_and_data(config):
    """`(config, data, teacher)`: a loaded teacher (None when --teacher is a
    registered model, trained later) and the data at its input size, or at
    the student's (--input-size, else its default)."""
    if config.teacher in list_models():
        size = inputs.input_size(config, model=config.student)
        config = config.replace(input_size=size)
        return config, inputs.load_training_data(config, size), None
    teacher = sources.load_trained(config.teacher, TEACHER)
    config, data = inputs.load_data_for_model(config, teacher)
    return config, data, teacher


def check_models(config, data):
    """Build the student (and a teacher trained here) once, so that a size
    they cannot take fails before anything is written."""
    build_student(config, data)
    if config.teacher in list_models():
        inputs.build_model(config, data, model=config.teacher,
                           width=config.teacher_width)


def omitted_index(config, data):
    """The index of --omit-class in the data's classes (None without it)."""
    if config.omit_class is None:
        return None
    if config.omit_class not in data.class_names:
        raise KzooError(f"--omit-class must be one of {data.class_names}. "
                        f"Received: {config.omit_class!r}")
    return data.class_names.index(config.omit_class)


def build_student(config, data):
    """A fresh --student at --student-width (--dropout), seeded."""
    keras.utils.set_random_seed(config.seed)
    return inputs.build_model(config, data, model=config.student,
                              width=config.student_width)


def train_teacher(config, data, out):
    """Train the registered --teacher (--teacher-width, --teacher-dropout)
    for --teacher-epochs (default --epochs)."""
    keras.utils.set_random_seed(config.seed)
    teacher = inputs.build_model(config, data, model=config.teacher,
                                 width=config.teacher_width,
                                 dropout=config.teacher_dropout)
    finish.write_config(config, data, out, role=TEACHER)
    fitting.compile_model(teacher, config, data.counts["train"],
                          epochs=config.teacher_epochs)
    progress.banner(f"teacher {config.teacher}: {sources.parameters(teacher)}")
    fitting.fit(teacher, config, data, out, epochs=config.teacher_epochs,
                phase=TEACHER)
    return teacher


def score_teacher(teacher, config, data, out):
    """The teacher's row (exported again only when it has Keras layers)."""
    if not is_layered(teacher):
        test = inputs.test_dataset(data, config)
        result = row(teacher, finish.evaluate(teacher, test, data.class_names), None)
    else:
        finish.write_config(config, data, out, role=TEACHER)
        result = row(teacher, *finish.finish(teacher, config, data, out))
    say_row(TEACHER, result)
    return result


def train_and_score(model, config, data, out, phase):
    """Compile, fit (one phase) and score `model`; a `Distiller`'s student
    (its `network`) is what is scored and exported.

    Returns:
        `(row, metrics)`: its table row (see `row`) and test metrics.
    """
    finish.write_config(config, data, out)
    fitting.compile_model(model, config, data.counts["train"])
    network = model.network if isinstance(model, Distiller) else model
    progress.banner(f"{phase}: {config.student} at width {config.student_width:g}, "
                    f"{sources.parameters(network)}")
    fitting.fit(model, config, data, out, phase=phase)
    metrics, version_dir = finish.finish(network, config, data, out)
    result = row(network, metrics, version_dir)
    say_row(phase, result)
    return result, metrics


def row(model, metrics, version_dir):
    """A model's table row: parameters, test accuracy and errors, per-class
    accuracy, SavedModel."""
    return {
        "parameters": int(model.count_params()) if is_layered(model) else None,
        "test_accuracy": metrics["test_accuracy"],
        "test_errors": int(round((1 - metrics["test_accuracy"])
                                 * metrics["num_examples"])),
        "num_test": metrics["num_examples"],
        "per_class_accuracy": metrics["per_class_accuracy"],
        "saved_model": version_dir,
    }


def say_row(name, result):
    progress.say(f"{name}: test accuracy {progress.number(result['test_accuracy'])}"
                 f" ({result['test_errors']}/{result['num_test']} errors); "
                 f"SavedModel: {result['saved_model'] or '-'}")


def distillation_set(data, teacher, omit, precompute, unlabeled=False):
    """The training data of the distilled student: without the omitted class,
    plus the unlabelled pool (label -1) when `unlabeled`, with the teacher's
    logits cached when `precompute`."""
    train, counts = data.train, dict(data.counts)
    if unlabeled and data.unlabeled is not None:
        train = train.concatenate(data.unlabeled)
        counts["train"] += counts["unlabeled"]
    if omit is not None:
        train = train.filter(lambda x, y: y != omit)
        counts["train"] = sum(1 for _ in train)
    val = data.val
    if precompute:
        train = precompute_teacher_logits(teacher, train)
        val = precompute_teacher_logits(teacher, val) if val is not None else None
    return dataclasses.replace(data, train=train, val=val, counts=counts)


def bias_corrected(distiller, teacher, config, data, omit, out):
    """Raise the omitted class's bias to the teacher's predicted share on the
    validation images (their labels are not used); score and export."""
    name = data.class_names[omit]
    progress.banner(f"bias correction of class {name} (omitted from distillation)")
    images = data.val if data.val is not None else data.train
    images = images.map(lambda x, y: x).batch(256)
    share = float(np.mean(np.argmax(teacher.predict(images, verbose=0), -1) == omit))
    shift = bias_shift_for_share(distiller.network.predict(images, verbose=0),
                                 omit, share)
    corrected = copy_model(distiller.network)
    add_class_bias(corrected, omit, shift)
    finish.write_config(config, data, out, bias_shift=shift, teacher_share=share)
    result = row(corrected, *finish.finish(corrected, config, data, out))
    result.update(bias_shift=shift, teacher_share=share)
    progress.say(f"the teacher predicts class {name} on {progress.number(share)} "
                 f"of the images; bias shift {progress.number(shift)}")
    say_row(CORRECTED, result)
    return result


def summarise(rows, omit_name):
    """`distill.json`: the rows, gap closure, size ratio and the omitted
    class's accuracy before and after bias correction."""
    report = {"rows": rows}
    if ALONE in rows:
        teacher, alone = rows[TEACHER]["test_errors"], rows[ALONE]["test_errors"]
        distilled = rows[DISTILLED]["test_errors"]
        report["gap_closure"] = ((alone - distilled) / (alone - teacher)
                                 if alone > teacher else None)
    if rows[TEACHER]["parameters"]:
        report["size_ratio"] = (rows[TEACHER]["parameters"]
                                / rows[DISTILLED]["parameters"])
    if omit_name is not None:
        report["omitted_class"] = omit_name
        report["omitted_class_accuracy"] = {
            name: rows[name]["per_class_accuracy"][omit_name]
            for name in (DISTILLED, CORRECTED)}
    return report


def print_table(report):
    """The test errors of every model, size ratio, gap closure, omitted class."""
    progress.say(f"\n{'model':<26} {'params':>10} {'test acc':>9} {'errors':>7}")
    for name, r in report["rows"].items():
        params = f"{r['parameters']:,}" if r["parameters"] else "?"
        progress.say(f"{name:<26} {params:>10} {r['test_accuracy']:>9.4f} "
                     f"{r['test_errors']:>4}/{r['num_test']}")
    if "size_ratio" in report:
        progress.say(f"teacher / student size: {report['size_ratio']:.1f}x")
    if report.get("gap_closure") is not None:
        progress.say(f"gap closure: {report['gap_closure']:.2f}")
    if "omitted_class_accuracy" in report:
        acc = report["omitted_class_accuracy"]
        progress.say(f"class {report['omitted_class']} (omitted from distillation): "
                     f"{acc['distilled']:.4f}, after bias correction "
                     f"{acc['distilled_bias_corrected']:.4f}")
