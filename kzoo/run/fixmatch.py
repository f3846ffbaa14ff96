"""FixMatch (Sohn et al. 2020) and its variants (--variant: FlexMatch,
FreeMatch, SoftMatch), with distribution alignment as an option: `kzoo
fixmatch`. The model is `kzoo.semi_supervised.FixMatchModel` with the
variant's confidence strategy; this module trains it as every kzoo run
does (resumable, guarded `fit`), watches its classes
(`kzoo.semi_supervised.collapse`) and exports its weight average."""

import csv
import math
import os

import numpy as np

from kzoo.analysis import plot_lines
from kzoo.data import fixmatch_batches
from kzoo.errors import KzooError
from kzoo.outputs import write_json
from kzoo.run import finish, fitting, inputs, progress
from kzoo.run.commands.fixmatch import FIXMATCH_STEPS
from kzoo.run.exporting import saved_model_note
from kzoo.run.result import RunResult
from kzoo.run.semi import cache_pool, pass_size, require_pool, with_budget
from kzoo.run.session import session
from kzoo.semi_supervised import CONFIDENCE, FixMatchModel, get_confidence
from kzoo.semi_supervised.collapse import (
    LABELLED_SAMPLE,
    MIN_CONFIDENT,
    POOL_SAMPLE,
    CollapseMonitor,
    sample_arrays,
)

CURVE = "fixmatch_curve.png"

# The defaults (`kzoo.run.commands.fixmatch`, `FIXMATCH_STEPS`) were chosen
# on validation splits of seeds 10-15, which the reported results do not
# use; every candidate and its validation accuracy is in
# docs/results/fixmatch_defaults.csv (the site's Results page). The budget
# is in steps so that a larger pool does not make a longer run: 1,000 passes
# are 12,000 steps on the digits pool and 900,000 on a 100,000-image one.
# No dropout: in the one training-mode pass it makes the weak view's
# predictions noisy (fewer of the pool pass tau, and fewer of those right).


def fixmatch(config):
    """Train --model with FixMatch on the labelled and unlabelled images;
    export the weight average (EMA).

    Args:
        config: A `RunConfig` of `fixmatch`.

    Returns:
        `RunResult` with the averaged network's test metrics, its
        SavedModel, the report (`fixmatch.json`) and the averaged network.

    Raises:
        KzooError: No unlabelled images, or any error of the run's data,
            policies, model or output folder.
    """
    config = with_length(with_budget(config))
    # --flexmatch is --variant flexmatch: one recorded setting, so that
    # either spelling resumes the other's run (refusing a contradiction
    # before anything is written).
    config = config.replace(variant=variant(config), flexmatch=False)
    with session(config) as run:
        size = inputs.input_size(config)
        for spec in (config.augment, config.strong):  # fail before loading data
            inputs.make_policy(spec, (size, size), None, config.seed)
        data = inputs.load_training_data(config, size)
        require_pool(data)
        out = run.output_dir(config.out or os.path.join(
            "saved_models", f"fixmatch-{data.name}"))
        inputs.describe_data(data)
        finish.write_config(config, data, out, input_size=size)
        progress.banner(f"{method_name(config)}: {config.model} on "
                        f"{data.counts['train']} labelled + "
                        f"{data.counts['unlabeled']} unlabelled images")
        model = train(config, data, out, phase=method_name(config))
        network = model.averaged_network()
        collapse = model.collapse_monitor.final()
        metrics, version_dir = finish.finish(network, config, data, out,
                                             extra={"collapse": collapse})
        report = dict(method=method_name(config), **last_logs(out),
                      test_accuracy=metrics["test_accuracy"],
                      saved_model=version_dir, collapse=collapse)
        write_json(os.path.join(out, "fixmatch.json"), report)
        plot_curve(out, title=f"{title(method_name(config))} training")
    progress.say(f"test accuracy {progress.number(metrics['test_accuracy'])} on "
                 f"{metrics['num_examples']} images (weight average); "
                 f"{saved_model_note(version_dir)}")
    say_collapse(collapse)
    return RunResult("fixmatch", out, metrics, version_dir, report, network)


def with_length(config):
    """`config` with its length resolved: --epochs passes when given,
    else --steps (default `FIXMATCH_STEPS`)."""
    if config.epochs is None and config.steps is None:
        return config.replace(steps=FIXMATCH_STEPS)
    return config


def variant(config):
    """The confidence strategy's name: --variant, or 'flexmatch' for
    --flexmatch (its synonym).

    Raises:
        KzooError: --flexmatch with another --variant, or
            --distribution-alignment with softmatch (it aligns already).
    """
    if config.flexmatch and config.variant not in ("fixmatch", "flexmatch"):
        raise KzooError(f"--flexmatch means --variant flexmatch; it cannot go "
                        f"with --variant {config.variant}: drop one.")
    name = "flexmatch" if config.flexmatch else config.variant
    if name == "softmatch" and config.distribution_alignment:
        raise KzooError("--variant softmatch aligns the pseudo-labels to a "
                        "uniform distribution itself; drop "
                        "--distribution-alignment.")
    return name


def method_name(config):
    """The variant, with '+da' for distribution alignment."""
    return variant(config) + ("+da" if config.distribution_alignment else "")


def train(config, data, out, phase="fixmatch"):
    """Build, compile and fit a `FixMatchModel` of --model on `data` into
    `out`: the trained wrapper (its `averaged_network()` is what serves).

    """
    pool_size = data.counts["unlabeled"]
    model = FixMatchModel(
        inputs.build_model(config, data, weights=config.weights),
        confidence=get_confidence(variant(config), config.threshold, pool_size),
        unlabeled_weight=config.unlabeled_weight,
        distribution_alignment=config.distribution_alignment,
        target_distribution=(labelled_distribution(data)
                             if config.distribution_alignment else None),
        ema_decay=config.ema_decay, label_smoothing=config.label_smoothing)
    size = data.image_shape[:2]
    weak = inputs.make_policy(config.augment, size, None, config.seed + 1)
    strong = inputs.make_policy(config.strong, size, None, config.seed + 2)
    batches = fixmatch_batches(
        data.train, data.unlabeled, config.batch_size, config.ratio,
        weak=weak, strong=strong, seed=config.seed,
        labeled_map=inputs.train_map(data, config),
        cache_unlabeled=cache_pool(config, data, pool_size),
        hidden_labels=known_labels(data))
    num_train = pass_size(config, data, pool_size)
    plan = fitting.fit_plan(config, num_train)
    progress.say(run_length(config, plan))
    monitor = collapse_monitor(config, data, plan)
    fitting.compile_model(model, config, num_train)
    fitting.fit(model, config, data, out, train=batches, num_train=num_train,
                phase=phase, extra_callbacks=[monitor])
    monitor.set_model(model)
    model.collapse_monitor = monitor
    return model


def collapse_monitor(config, data, plan):
    """The `CollapseMonitor` of a run: the labelled images and an evenly
    spread sample of the pool, the labelled class distribution, and
    --threshold as the confidence of a confident pseudo-label."""
    labelled = sample_arrays(data.train, data.counts["train"], LABELLED_SAMPLE)
    pool, _ = sample_arrays(data.unlabeled, data.counts["unlabeled"], POOL_SAMPLE)
    return CollapseMonitor(labelled, pool, labelled_distribution(data),
                           threshold=config.threshold, class_names=data.class_names,
                           plan=plan, say=progress.note)


def say_collapse(collapse):
    """The run's class warnings, or that there were none, after its result."""
    warnings = collapse["warnings"]
    if not warnings:
        last = collapse["last_check"] or {}
        shares = ("no class got under a quarter of its share of the "
                  "predictions >= --threshold" if last.get("confident", 0) >= MIN_CONFIDENT else
                  "class shares not judged: under 10% of the pool sample "
                  "reached --threshold")
        progress.say(f"classes: no class warning in {collapse['checks']} "
                     f"check(s) ({shares}; the pool images nearest each "
                     "class's labelled images take its label)")
        return
    for w in warnings:
        progress.say(f"CLASS WARNING (seen from step {w['since']:,} to "
                     f"{w['until']:,}): {w['text']}")
    classes = sorted({c for w in warnings for c in w["classes"]})
    progress.say(f"what to do: label more images of {', '.join(map(repr, classes))} "
                 "(kzoo select --model on this run picks the ones it is least "
                 "sure of), or check their labels (kzoo audit); then train again")


def run_length(config, plan):
    """What the run will do, said before it starts: its steps, their
    images and the passes over the pool they make."""
    batch = (f"batches of {config.batch_size} labelled + "
             f"{config.batch_size * config.ratio} unlabelled images")
    epochs = progress.passes(plan.passes)
    pool = f"{epochs} epoch{'s' * (epochs != '1')} of the unlabelled pool"
    if config.smoke:
        return f"{plan.total_steps} steps (--smoke) of {batch}"
    if plan.budget:
        return (f"{plan.budget:,} steps (--steps) of {batch}, {pool}; "
                "the first progress line gives the time left")
    return (f"{plan.total_steps:,} steps ({pool}, --epochs) of {batch}; "
            "the first progress line gives the time left")


def known_labels(data):
    """The pool's hidden labels for measuring the pseudo-labels
    (`pseudo_label_accuracy`), or None when none is known (a folder's
    `unlabeled/` files): the metric is then neither logged nor shown."""
    labels = data.unlabeled_labels
    if labels is None or not (np.asarray(labels) >= 0).any():
        return None
    return labels


def labelled_distribution(data):
    """The class distribution of the labelled split (distribution
    alignment's target): one pass over its labels."""
    counts = np.zeros(data.num_classes, np.float64)
    for label in data.train.map(lambda x, y: y).as_numpy_iterator():
        counts[int(label)] += 1
    return (counts / max(counts.sum(), 1)).tolist()


def read_log(out):
    """Rows of `out/training_log.csv` as dicts of floats (empty without)."""
    path = os.path.join(out, "training_log.csv")
    if not os.path.isfile(path):
        return []
    with open(path) as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)}
                for row in csv.DictReader(f)]


def last_logs(out):
    """The last check's training logs (mask rate, pseudo-label accuracy,
    validation accuracy), rounded; None where a value is n/a (NaN: no
    pseudo-label with a known label passed the threshold in that check)."""
    rows = read_log(out)
    keys = ("mask_rate", "pseudo_label_accuracy", "val_accuracy")
    last = rows[-1] if rows else {}
    return {k: None if math.isnan(last[k]) else round(last[k], 4)
            for k in keys if k in last}


def title(method):
    """'flexmatch+da' -> 'FlexMatch + distribution alignment'."""
    name, _, aligned = method.partition("+")
    return CONFIDENCE[name].title + (" + distribution alignment" if aligned else "")


def plot_curve(out, title="FixMatch training"):
    """Validation accuracy (of the average), mask rate and pseudo-label
    accuracy (where the pool's labels are known) against the training
    step: `out/fixmatch_curve.png`. A check where a value is n/a (NaN) is
    a gap in its line; a line with no value at all is not drawn."""
    rows = read_log(out)
    series = {}
    for key, label in (("val_accuracy", "validation accuracy (EMA)"),
                       ("mask_rate", "mask rate"),
                       ("pseudo_label_accuracy", "pseudo-label accuracy")):
        points = [(r["step"], r[key]) for r in rows if key in r and "step" in r]
        if any(not math.isnan(v) for _, v in points):
            series[label] = ([s for s, _ in points], [v for _, v in points])
    if series:
        plot_lines(series, os.path.join(out, CURVE), xlabel="training step",
                   ylabel="rate", title=title)
