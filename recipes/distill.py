"""Distil a teacher into a smaller student and report how much of the gap closes.

    python recipes/distill.py                 # VGG-11-BN teacher -> LeNet-5 (digits)
    python recipes/distill.py --teacher saved_models/big/1 --temperature 4
    python recipes/distill.py --omit-class 3  # Hinton et al.'s omitted-class test

--teacher is a .keras file or kzoo SavedModel, or a registered model name
that is first trained on the same labelled data (--teacher-width,
--teacher-epochs). With --compare (default) the student is also trained
alone with the same settings, and the table gives the test errors of
teacher, student alone and distilled student, and the gap closure
(student alone - distilled) / (student alone - teacher). With --omit-class
the class is left out of the distillation set; its test accuracy is
reported before and after raising its bias until the student predicts it on
the validation images as often as the teacher does. Outputs under --out:
teacher/, student_alone/, distilled/ (and distilled_bias_corrected/), each
with metrics.json and a SavedModel, plus distill.json. Every other flag is
`recipes/train.py`'s (--model/--width do not apply: use --student).

Defaults differ from train.py where distillation needs it: no label
smoothing (a smoothed teacher's soft targets carry less, Mueller et al.
2019), no dropout in the students (as in Hinton et al., the student alone is
unregularised; soft targets are the regulariser; with dropout 0.5 the
distilled student did no better than the student alone here), a cosine
schedule; a teacher trained here keeps dropout (--teacher-dropout).
"""

import dataclasses
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import train as train_recipe  # noqa: E402

from kzoo import cli  # noqa: E402
from kzoo.errors import KzooError  # noqa: E402
from kzoo.models import list_models  # noqa: E402
from kzoo.training import Distiller, load_model_source, precompute_teacher_logits  # noqa: E402
from kzoo.training.bias import add_class_bias, bias_shift_for_share  # noqa: E402
from kzoo.training.sources import is_layered  # noqa: E402
from kzoo.training.transfer import copy_model  # noqa: E402


def build_parser():
    p = train_recipe.build_parser()
    p.description = __doc__.splitlines()[0]
    p.add_argument(
        "--teacher",
        default="vgg11_bn",
        help="registered model name (trained here) or .keras/SavedModel path",
    )
    p.set_defaults(label_smoothing=0.0, schedule="cosine", dropout=0.0)
    cli.not_applicable(p, model="the student is --student, the teacher --teacher",
                       width="use --student-width or --teacher-width")
    p.add_argument("--teacher-width", type=cli.positive_float, default=0.25)
    p.add_argument("--teacher-dropout", type=cli.rate, default=0.5,
                   help="dropout of a teacher trained here (--dropout is the "
                        "students')")
    p.add_argument(
        "--teacher-epochs",
        type=cli.positive_int,
        default=None,
        help="default: --epochs",
    )
    p.add_argument("--student", default="lenet5")
    p.add_argument("--student-width", type=cli.positive_float, default=1.0)
    p.add_argument("--temperature", type=cli.positive_float, default=4.0)
    p.add_argument(
        "--student-loss-weight",
        type=cli.unit_interval,
        default=0.1,
        help="weight a of the hard-label loss; 1 - a goes to distillation",
    )
    p.add_argument(
        "--compare",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train the student alone and report the gap closure",
    )
    p.add_argument(
        "--precompute",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the teacher once before training (default: on unless "
        "--augment is set)",
    )
    p.add_argument(
        "--unlabeled",
        action="store_true",
        help="also distil on the unlabelled pool (training images outside the "
        "label budget, and unlabeled/): soft targets only",
    )
    p.add_argument(
        "--omit-class", default=None, help="class name left out of the distillation set"
    )
    return p


def main(argv=None):
    args = cli.parse_args(build_parser(), argv)
    with train_recipe.session(args) as run:
        return run_recipe(args, run)


def run_recipe(args, run):
    precompute = args.augment == "none" if args.precompute is None else args.precompute
    if precompute and args.augment != "none":
        raise KzooError(
            "--precompute needs --augment none: cached teacher logits "
            "belong to the unaugmented images."
        )
    if args.unlabeled and args.omit_class is not None:
        raise KzooError("--unlabeled and --omit-class do not mix: the unlabelled "
                        "pool may hold the omitted class.")
    keras.utils.set_random_seed(args.seed)
    teacher_source = None
    if args.teacher not in list_models():
        teacher_source = load_model_source(args.teacher)
        args, data = train_recipe.load_data_for_model(args, teacher_source)
    else:
        size = train_recipe.input_size(cli.copy_args(args, model=args.student))
        args = cli.copy_args(args, input_size=size)
        data = train_recipe.load_training_data(args, size)
    check_models(args, data)
    out = run.output_dir(
        args.out or os.path.join("saved_models", f"distill-{data.name}"))
    train_recipe.describe_data(data)
    omit = None
    if args.omit_class is not None:
        if args.omit_class not in data.class_names:
            raise KzooError(
                f"--omit-class must be one of {data.class_names}. "
                f"Received: {args.omit_class!r}"
            )
        omit = data.class_names.index(args.omit_class)

    rows = {}
    teacher = teacher_source or train_teacher(args, data, os.path.join(out, "teacher"))
    rows["teacher"] = score(teacher, args, data, os.path.join(out, "teacher"))
    if args.compare:
        student = build_student(args, data)
        rows["student_alone"] = train_and_score(
            student, args, data, os.path.join(out, "student_alone")
        )
    distiller = Distiller(
        teacher=teacher,
        student=build_student(args, data),
        temperature=args.temperature,
        student_loss_weight=args.student_loss_weight,
        label_smoothing=args.label_smoothing,
    )
    transfer = distillation_set(data, teacher, omit, precompute, args.unlabeled)
    rows["distilled"] = train_and_score(
        distiller, args, transfer, os.path.join(out, "distilled")
    )
    if omit is not None:
        rows["distilled_bias_corrected"] = bias_corrected(
            distiller, teacher, args, data, omit, out
        )
    report = summarise(rows, args.omit_class)
    cli.write_json(os.path.join(out, "distill.json"), report)
    print_table(report)
    return 0


def check_models(args, data):
    """Build the student (and a teacher trained here) once, so that a size
    they cannot take fails before anything is written."""
    build_student(args, data)
    if args.teacher in list_models():
        train_recipe.build_model(cli.copy_args(args, model=args.teacher,
                                               width=args.teacher_width), data)


def build_student(args, data):
    keras.utils.set_random_seed(args.seed)
    return train_recipe.build_model(
        cli.copy_args(args, model=args.student, width=args.student_width), data
    )


def train_teacher(args, data, out):
    keras.utils.set_random_seed(args.seed)
    teacher = train_recipe.build_model(
        cli.copy_args(args, model=args.teacher, width=args.teacher_width,
                      dropout=args.teacher_dropout),
        data,
    )
    train_recipe.write_config(args, data, out, role="teacher")
    train_recipe.compile_model(teacher, args, data.counts["train"])
    print(f"\n== teacher {args.teacher}: {teacher.count_params():,} parameters")
    train_recipe.fit(teacher, args, data, out, epochs=args.teacher_epochs)
    return teacher


def score(teacher, args, data, out):
    """The teacher's test row (exported again only if it has Keras layers)."""
    if not is_layered(teacher):
        test = train_recipe.test_dataset(data, args)
        metrics = train_recipe.evaluate(teacher, test, data.class_names)
        return row(teacher, metrics, None)
    train_recipe.write_config(args, data, out, role="teacher")
    metrics, version_dir = train_recipe.finish(teacher, args, data, out)
    return row(teacher, metrics, version_dir)


def train_and_score(model, args, data, out):
    """Compile, fit and score `model` (a Distiller's student is exported)."""
    train_recipe.write_config(args, data, out)
    train_recipe.compile_model(model, args, data.counts["train"])
    plain = model.student if isinstance(model, Distiller) else model
    print(f"\n== {os.path.basename(out)}: {plain.count_params():,} parameters")
    train_recipe.fit(model, args, data, out)
    metrics, version_dir = train_recipe.finish(plain, args, data, out)
    return row(plain, metrics, version_dir)


def row(model, metrics, version_dir):
    return {
        "parameters": int(model.count_params()) if is_layered(model) else None,
        "test_accuracy": metrics["test_accuracy"],
        "test_errors": int(
            round((1 - metrics["test_accuracy"]) * metrics["num_examples"])
        ),
        "num_test": metrics["num_examples"],
        "per_class_accuracy": metrics["per_class_accuracy"],
        "saved_model": version_dir,
    }


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


def bias_corrected(distiller, teacher, args, data, omit, out):
    """Raise the omitted class's bias to the teacher's predicted share on the
    validation images (their labels are not used)."""
    images = data.val if data.val is not None else data.train
    images = images.map(lambda x, y: x).batch(256)
    share = float(np.mean(np.argmax(teacher.predict(images, verbose=0), -1) == omit))
    shift = bias_shift_for_share(
        distiller.student.predict(images, verbose=0), omit, share
    )
    corrected = copy_model(distiller.student)
    add_class_bias(corrected, omit, shift)
    target = os.path.join(out, "distilled_bias_corrected")
    train_recipe.write_config(args, data, target, bias_shift=shift, teacher_share=share)
    metrics, version_dir = train_recipe.finish(corrected, args, data, target)
    result = row(corrected, metrics, version_dir)
    result.update(bias_shift=shift, teacher_share=share)
    return result


def summarise(rows, omit_name):
    report = {"rows": rows}
    if "student_alone" in rows:
        teacher, alone = (
            rows["teacher"]["test_errors"],
            rows["student_alone"]["test_errors"],
        )
        distilled = rows["distilled"]["test_errors"]
        report["gap_closure"] = (
            (alone - distilled) / (alone - teacher) if alone > teacher else None
        )
    if rows["teacher"]["parameters"]:
        report["size_ratio"] = (
            rows["teacher"]["parameters"] / rows["distilled"]["parameters"]
        )
    if omit_name is not None:
        report["omitted_class"] = omit_name
        report["omitted_class_accuracy"] = {
            name: rows[name]["per_class_accuracy"][omit_name]
            for name in ("distilled", "distilled_bias_corrected")
        }
    return report


def print_table(report):
    print(f"\n{'model':<26} {'params':>10} {'test acc':>9} {'errors':>7}")
    for name, r in report["rows"].items():
        params = f"{r['parameters']:,}" if r["parameters"] else "?"
        print(
            f"{name:<26} {params:>10} {r['test_accuracy']:>9.4f} "
            f"{r['test_errors']:>4}/{r['num_test']}"
        )
    if "size_ratio" in report:
        print(f"teacher / student size: {report['size_ratio']:.1f}x")
    if report.get("gap_closure") is not None:
        print(f"gap closure: {report['gap_closure']:.2f}")
    if "omitted_class_accuracy" in report:
        acc = report["omitted_class_accuracy"]
        print(
            f"class {report['omitted_class']} (omitted from distillation): "
            f"{acc['distilled']:.4f}, after bias correction "
            f"{acc['distilled_bias_corrected']:.4f}"
        )


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
