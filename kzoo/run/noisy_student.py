"""Noisy Student self-training (Xie et al. 2020): `kzoo noisy-student`.

Round 0 trains a teacher on the labelled images (with --augment), or with
FixMatch on the labelled and unlabelled images (--teacher-method fixmatch:
`kzoo fixmatch` through `kzoo.run.run` with the options in
`TEACHER_OPTIONS`; its weight average teaches). Each
round k then pseudo-labels the unlabelled pool with the un-noised teacher
(`select_pseudo_labels`: hard or --soft, --threshold, --balance), trains a
new student from scratch on labelled + pseudo-labelled images with input
noise (--noise) and model noise (--noise-dropout), and makes it the next
teacher. --ablate-noise runs the rounds again without noise from the same
teacher. Each phase is one `fit` (one progress bar); each round prints a
short summary, the run ends with the table of every round.
"""

import os

import keras

from kzoo.analysis import plot_lines
from kzoo.data import with_pseudo_labels
from kzoo.errors import KzooError
from kzoo.models import get_model_entry
from kzoo.outputs import save_keras, write_json
from kzoo.run import (
    finish,
    fitting,
    inputs,
    progress,
    tensorboard,
)
from kzoo.run.result import RunResult
from kzoo.run.reuse import run_recorded
from kzoo.run.semi import fit_semi_supervised, require_pool, with_budget
from kzoo.run.session import session
from kzoo.semi_supervised import (
    PSEUDO_TARGETS,
    PseudoLabelModel,
    predict_probabilities,
    select_pseudo_labels,
)

# The defaults were chosen on digits, 5 labels per class, seed 0: the
# settings they beat are in docs/results/noisy_student_defaults.csv (the
# site's Results page). A confidence threshold kept the easy images and the
# students lost the hard ones; soft targets of a label-smoothed teacher are
# nearly flat.
# What a FixMatch teacher (--teacher-method fixmatch) takes from this run's
# options; everything else is `kzoo fixmatch`'s default (its steps, ratio,
# threshold, label smoothing and dropout: noisy-student's options of those
# names mean other things).
TEACHER_OPTIONS = (
    "data", "data_dir", "download", "classes", "seed", "labels_per_class",
    "label_fraction", "labeled_indices", "val_fraction", "input_size",
    "channels", "weights", "batch_size", "lr", "schedule", "augment",
    "jit_compile", "steps_per_execution", "check_every", "cache_pool",
    "strategy", "deterministic", "mixed_precision", "smoke")
TEACHER_RECORD = "teacher_run.json"


def noisy_student(config):
    """Run the teacher and --rounds noised students; export the last one.

    Args:
        config: A `RunConfig` of `noisy-student`.

    Returns:
        `RunResult` with the final student's test metrics, its SavedModel,
        the report (`noisy_student.json`: `supervised`, `noised`, and
        `no_noise` with --ablate-noise) and the final student.

    Raises:
        KzooError: No unlabelled images, a bad --models entry, a model that
            cannot take the input size, or a round whose teacher reaches
            --threshold on no unlabelled image.

    Reference:
        Xie et al. "Self-training with Noisy Student improves ImageNet
        classification", CVPR 2020.
    """
    config = with_budget(config)
    with session(config) as run:
        config, data, out = prepare(config, run)
        teacher, first = train_teacher(config, data, out)
        report = {"supervised": first, "noised": []}
        loops = [("noised", True)]
        if config.ablate_noise:
            loops.append(("no_noise", False))
        networks = {}
        for label, noised in loops:
            report[label], networks[label] = run_rounds(teacher, first, config,
                                                        data, out, noised)
        metrics, version_dir = finish.finish(networks["noised"], config, data, out)
        report.update(test_accuracy=metrics["test_accuracy"],
                      saved_model=version_dir)
        write_json(os.path.join(out, "noisy_student.json"), report)
        plot_rounds(report, os.path.join(out, "rounds.png"))
    print_table(report)
    progress.say(f"final student: test accuracy "
                 f"{progress.number(metrics['test_accuracy'])}; SavedModel: "
                 f"{version_dir}")
    return RunResult("noisy-student", out, metrics, version_dir, report,
                     networks["noised"])


def prepare(config, run):
    """Check the policies and every round's model, load the data, claim
    --out and write config.json: `(config, data, out)`, the config with
    --input-size and --models resolved."""
    models = [parse_model(spec, config.width)
              for spec in config.models or [config.model]]
    size = config.input_size or get_model_entry(models[0][0]).default_input_shape[0]
    config = config.replace(input_size=size, models=[f"{name}:{width!r}"
                                                     for name, width in models])
    for spec in (config.augment, config.noise):  # fail before loading data
        inputs.make_policy(spec, (size, size), None, config.seed)
    keras.utils.set_random_seed(config.seed)
    data = inputs.load_training_data(config, size)
    require_pool(data)
    for k in range(min(config.rounds, len(models) - 1) + 1):  # sizes they take
        name, width = round_model(config, k)
        inputs.build_model(config, data, model=name, width=width,
                           weights=config.weights if k == 0 else None)
    out = run.output_dir(config.out or os.path.join(
        "saved_models", f"noisy_student-{data.name}"))
    inputs.describe_data(data)
    finish.write_config(config, data, out, model_noise={
        name: get_model_entry(name).noise.description for name, _ in models})
    return config, data, out


def parse_model(spec, default_width):
    """'vgg11_bn:0.25' -> ('vgg11_bn', 0.25); 'lenet5' -> ('lenet5', width).

    Raises:
        ValueError: An unknown model name.
        KzooError: A width that is not a number.
    """
    name, _, width = spec.partition(":")
    get_model_entry(name)  # unknown names fail here, before any training
    try:
        return name, float(width) if width else default_width
    except ValueError:
        raise KzooError(f"--models: bad width in {spec!r}; expected NAME:WIDTH. "
                        f"Received: {spec!r}") from None


def round_model(config, k):
    """`(name, width)` of round k's model (--models; the last repeats)."""
    specs = config.models or [config.model]
    return parse_model(specs[min(k, len(specs) - 1)], config.width)


def train_teacher(config, data, out):
    """Round 0: the model trained on the labelled images alone, or with
    FixMatch on the labelled and unlabelled ones (--teacher-method
    fixmatch: its weight average teaches), saved to `out/round0`:
    `(teacher, its report row)`."""
    name, width = round_model(config, 0)
    target = os.path.join(out, "round0")
    keras.utils.set_random_seed(config.seed)
    if config.teacher_method == "fixmatch":
        progress.banner(f"round 0 teacher: {name} with FixMatch on "
                        f"{data.counts['train']} labelled + "
                        f"{data.counts['unlabeled']} unlabelled images")
        teacher = fixmatch_teacher(config, name, width, target)
    else:
        teacher = inputs.build_model(config, data, model=name, width=width,
                                     weights=config.weights)
        fitting.compile_model(teacher, config, data.counts["train"])
        progress.banner(f"round 0 teacher: {name} on {data.counts['train']} "
                        "labelled images")
        fitting.fit(teacher, config, data, target, phase="round 0 teacher")
    save_keras(teacher, os.path.join(target, "model.keras"))
    row = dict(round=0, model=name, method=config.teacher_method,
               **finish.scores(teacher, config, data))
    progress.say(f"round 0 teacher: val {progress.number(row['val_accuracy'])}, "
                 f"test {progress.number(row['test_accuracy'])}")
    return teacher, row


def teacher_options(config, name, width, target):
    """The `kzoo fixmatch` options of the round-0 teacher: `TEACHER_OPTIONS`
    from this run, its model, and its folder (a `.keras` export only)."""
    values = {k: config.get(k) for k in TEACHER_OPTIONS}
    return dict(values, model=name, width=width, out=target, export=["keras"])


def fixmatch_teacher(config, name, width, target):
    """Train the FixMatch teacher (`kzoo fixmatch` through `kzoo.run.run`)
    into `target`, or reuse the one a killed run of the same options
    finished there: its averaged network."""
    path = os.path.join(target, "model.keras")
    record, result = run_recorded(
        "fixmatch", teacher_options(config, name, width, target),
        os.path.join(target, TEACHER_RECORD), fresh=config.fresh)
    if result is None and os.path.isfile(path):
        return keras.models.load_model(path)
    if result is None:  # recorded, but its model is gone: train it again
        record, result = run_recorded(
            "fixmatch", record["options"], os.path.join(target, TEACHER_RECORD),
            fresh=True)
    return result.model


def run_rounds(teacher, teacher_row, config, data, out, noised):
    """Rounds 1..R from `teacher` (scored in `teacher_row`):
    `(one report row per round, the last student)`."""
    rows = []
    tensorboard.log_round(out, teacher_row, noised)  # round 0 starts each line
    for k in range(1, config.rounds + 1):
        teacher, row = one_round(teacher, teacher_row["val_accuracy"], config,
                                 data, out, k, noised)
        tensorboard.log_round(out, row, noised)
        rows.append(row)
        teacher_row = row
    return rows, teacher


def one_round(teacher, teacher_val, config, data, out, k, noised):
    """Pseudo-label with `teacher`, train and score the round-k student:
    `(student, its report row)`."""
    tag = f"round{k}" if noised else f"round{k}_no_noise"
    phase = f"round {k} student" + ("" if noised else " (no noise)")
    chosen = pseudo_labels(teacher, config, data, k)
    pool = with_pseudo_labels(data.unlabeled, chosen.repeats, chosen.targets)
    name, width = round_model(config, k)
    student_config = config.replace(
        model=name, width=width, epochs=config.student_epochs,
        augment=config.noise if noised else "none",
        dropout=config.noise_dropout if noised else 0.0)
    keras.utils.set_random_seed(config.seed + k)
    network = inputs.build_model(student_config, data)
    student = PseudoLabelModel(network, label_smoothing=config.label_smoothing)
    progress.banner(f"{phase}: {name} on {data.counts['train']} labelled + "
                    f"{chosen.num_examples} pseudo-labelled "
                    f"({chosen.num_selected} images)")
    target = os.path.join(out, tag)
    fit_semi_supervised(student, student_config, data, pool, chosen.num_examples,
                        target, targets_key=PSEUDO_TARGETS, phase=phase)
    save_keras(network, os.path.join(target, "model.keras"))
    row = dict(
        round=k, model=name, noise=noised, teacher_val_accuracy=teacher_val,
        pseudo_labeled=chosen.num_selected, pseudo_examples=chosen.num_examples,
        pseudo_label_accuracy=chosen.accuracy(data.unlabeled_labels),
        per_class=chosen.per_class.tolist(),
        **finish.scores(network, config, data))
    say_round(phase, row)
    return network, row


def pseudo_labels(teacher, config, data, k):
    """The un-noised teacher's selected pseudo-labels of the pool.

    Raises:
        KzooError: No image reaches --threshold.
    """
    probs = predict_probabilities(teacher, data.unlabeled, verbose=0)
    chosen = select_pseudo_labels(probs, threshold=config.threshold,
                                  soft=config.soft, balance=config.balance)
    if not chosen.num_examples:
        raise KzooError(
            f"Round {k}: the teacher reached --threshold {config.threshold} on "
            f"none of the {len(probs)} unlabelled images (highest confidence "
            f"{probs.max():.3f}); lower --threshold or train the teacher longer.")
    return chosen


def say_round(phase, row):
    number = progress.number
    progress.say(
        f"{phase}: teacher val {number(row['teacher_val_accuracy'])}, student val "
        f"{number(row['val_accuracy'])}, test {number(row['test_accuracy'])}; "
        f"pseudo-labels {row['pseudo_labeled']} (accuracy "
        f"{number(row['pseudo_label_accuracy'])})")


def plot_rounds(report, path):
    """Test accuracy per round, one line per loop (noised, no noise)."""
    series = {}
    for label in ("noised", "no_noise"):
        if report.get(label):
            rows = [report["supervised"]] + report[label]
            series[f"{label.replace('_', ' ')} (test)"] = (
                [r["round"] for r in rows], [r["test_accuracy"] for r in rows])
    plot_lines(series, path, xlabel="round (0 = supervised teacher)",
               ylabel="test accuracy", title="Noisy Student rounds")


def print_table(report):
    """Every round: model, pseudo-labels, their accuracy, val and test."""
    number = progress.number
    progress.say(f"\n{'round':<18} {'model':<10} {'pseudo':>7} {'pl acc':>7} "
                 f"{'val acc':>8} {'test acc':>9}")
    first = report["supervised"]
    name = "0 " + first.get("method", "supervised")
    progress.say(f"{name:<18} {first['model']:<10} {'-':>7} {'-':>7} "
                 f"{number(first['val_accuracy']):>8} "
                 f"{number(first['test_accuracy']):>9}")
    for label in ("noised", "no_noise"):
        for r in report.get(label, []):
            name = f"{r['round']} {label.replace('_', ' ')}"
            progress.say(f"{name:<18} {r['model']:<10} {r['pseudo_labeled']:>7} "
                         f"{number(r['pseudo_label_accuracy']):>7} "
                         f"{number(r['val_accuracy']):>8} "
                         f"{number(r['test_accuracy']):>9}")
