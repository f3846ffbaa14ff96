"""Accuracy against labels per class, one line per technique:
`kzoo label-budget`.

Each cell of the report (budget x technique x seed) is a call of the
technique's library function (`kzoo.run.run`), whose `RunResult` gives
the test accuracy; a finished cell is recorded in its folder
(`label_budget_run.json`, with the options it ran with) and reused when
the same report runs again.
"""

import json
import os

import keras
import numpy as np

from kzoo import runtime
from kzoo.analysis import plot_lines
from kzoo.data import load_data
from kzoo.errors import KzooError
from kzoo.outputs import OutputLock, write_json
from kzoo.run import inputs, label_selection, progress
from kzoo.run.config import record_config
from kzoo.run.result import RunResult
from kzoo.run.session import run_dir

ALL = "all"
DONE_FILE = "label_budget_run.json"
RUNTIME_OPTIONS = ("strategy", "deterministic", "mixed_precision")
FIXMATCH_TECHNIQUES = ("fixmatch", "flexmatch", "fixmatch_noisy_student")
OPT_IN = ("flexmatch", "fixmatch_noisy_student")
# The techniques that need unlabelled images (none at budget 'all').
SEMI_SUPERVISED = ("pseudo_label", "noisy_student", *FIXMATCH_TECHNIQUES)


def label_budget(config):
    """Run every technique at every budget and seed; write the report.

    Returns:
        `RunResult` whose `report` is report.json's content.
    """
    if config.strategy == "multiworker":
        raise KzooError(
            "kzoo label-budget does not run multi-worker: it reuses the runs "
            "that finished before, and workers with separate disks would not "
            "agree on which; run the techniques themselves with --strategy "
            "multiworker.")
    budgets = [parse_budget(b) for b in config.budgets]
    seeds = [int(s) for s in config.seeds]
    techniques = select_techniques(config)
    specs = label_selection.parse_selection(config.selection or [])
    if specs and None in budgets:
        raise KzooError("With --selection, --budgets are labelled images in all "
                        "(e.g. 10,50), never 'all'. Received: --budgets "
                        f"{','.join(config.budgets)}")
    # Validates the spec once, up front; its counts place 'all' on the plot.
    data = load_data(config.data, data_dir=config.data_dir,
                     download=config.download, classes=config.classes)
    if specs:
        label_selection.check_budgets(budgets, specs, data.counts["train"])
    out = run_dir(config.out or os.path.join("saved_models",
                                             f"label_budget-{data.name}"),
                  config.smoke)
    runtime.check_output_dir(out)
    lock = OutputLock(out)  # one report per folder at a time
    try:
        if specs:
            report = run_selection_report(config, data, budgets, seeds,
                                          techniques, specs, out)
        else:
            report = run_report(config, data, budgets, seeds, techniques, out)
    finally:
        lock.release()
    return RunResult("label-budget", out, report=report)


def run_report(config, data, budgets, seeds, techniques, out):
    write_config(config, out)
    counts = (data.counts["train"], data.num_classes)
    report = {
        "data": data.name, "model": config.model, "seeds": seeds,
        "budgets": [budget_name(b) for b in budgets],
        "all_labels_per_class": data.counts["train"] / data.num_classes,
        "results": {name: {} for name in techniques},
    }
    for budget in budgets:
        for name in techniques:
            runs = []
            for seed in seeds:
                target = os.path.join(out, budget_name(budget), name, f"seed{seed}")
                accuracy, _ = run_technique(name, config, budget, seed, target,
                                            counts)
                keras.backend.clear_session()
                if accuracy is None:  # needs unlabelled images
                    break
                runs.append(accuracy)
                progress.say(f"[{budget_name(budget)} labels/class] {name} seed "
                             f"{seed}: test accuracy {accuracy:.4f}")
            report["results"][name][budget_name(budget)] = summary(runs)
            write_report(report, out)  # after every cell: nothing lost
    print_table(report)
    progress.say(f"report: {os.path.join(out, 'report.json')}, plot: "
                 f"{os.path.join(out, 'report.png')}")
    return report


def write_config(config, out):
    write_json(os.path.join(out, "config.json"),
               record_config(config.to_dict(), command=config.command.name,
                             output_dir=out))


def run_selection_report(config, data, budgets, seeds, techniques, specs, out):
    """Each technique on the labelled sets each --selection spec picks,
    at each budget (images in all) and seed: one report row per
    `technique (selection)`, and the classes each labelled set covers."""
    write_config(config, out)
    size = inputs.input_size(config)
    pools = {}
    report = {
        "data": data.name, "model": config.model, "seeds": seeds,
        "budgets": [str(b) for b in budgets], "budget_unit": "images",
        "embedding": config.embedding or label_selection.PIXELS,
        "all_labels_per_class": data.counts["train"] / data.num_classes,
        "num_classes": data.num_classes,
        "results": {}, "coverage": {}, "selected": {},
    }
    for budget in budgets:
        for spec in specs:
            for name in techniques:
                row = f"{name} ({spec.name})"
                runs, covered = [], []
                for seed in seeds:
                    if seed not in pools:
                        pools[seed] = label_selection.Pool(config, seed, size)
                    target = os.path.join(out, str(budget), spec.name, name,
                                          f"seed{seed}")
                    accuracy, chosen = selection_cell(
                        config, name, spec, pools[seed], budget, seed, target)
                    keras.backend.clear_session()
                    runs.append(accuracy)
                    covered.append(pools[seed].coverage(chosen))
                    report["selected"].setdefault(row, {}).setdefault(
                        str(budget), {})[str(seed)] = [int(i) for i in chosen]
                    progress.say(f"[{budget} labels, {spec.name}] {name} seed "
                                 f"{seed}: test accuracy {accuracy:.4f}; the "
                                 f"labels cover {covered[-1]} classes")
                report["results"].setdefault(row, {})[str(budget)] = summary(runs)
                report["coverage"].setdefault(row, {})[str(budget)] = covered
                write_report(report, out)
    print_table(report)
    progress.say(f"report: {os.path.join(out, 'report.json')}, plot: "
                 f"{os.path.join(out, 'report.png')}")
    return report


def selection_cell(config, name, spec, pool, budget, seed, target):
    """`(test accuracy, the labelled pool indices)` of one technique on the
    set `spec` picks (two runs for a FIRST+SECOND spec)."""
    chosen = label_selection.first_round(spec, pool, budget, seed)
    counts = (len(chosen), 1)
    if spec.second is not None:
        _, first_out = run_technique(name, config, None, seed,
                                     os.path.join(target, "round1"), counts,
                                     labeled=chosen)
        chosen = label_selection.second_round(
            spec, pool, chosen, budget, os.path.join(first_out, "model.keras"), seed)
        keras.backend.clear_session()
    accuracy, _ = run_technique(name, config, None, seed, target,
                                (len(chosen), 1), labeled=chosen)
    return accuracy, chosen


def write_report(report, out):
    write_json(os.path.join(out, "report.json"), report)
    plot_report(report, os.path.join(out, "report.png"))


def parse_budget(text):
    if text == ALL:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise KzooError(
            f"--budgets takes positive integers or 'all'. Received: {text!r}")
    return value


def budget_name(budget):
    return ALL if budget is None else str(budget)


def select_techniques(config):
    available = ["supervised", "supervised_augment", "pseudo_label",
                 "noisy_student", *FIXMATCH_TECHNIQUES]
    if config.teacher:
        available.append("distillation")
    if config.source:
        available.append("transfer")
    # FlexMatch and FixMatch + Noisy Student only on request: each adds
    # about as much time as FixMatch itself (minutes a run).
    chosen = config.techniques or [t for t in available if t not in OPT_IN]
    unknown = [t for t in chosen if t not in available]
    if unknown:
        raise KzooError(
            f"Unknown or unavailable techniques {unknown}; available: {available} "
            "(distillation needs --teacher, transfer --source)")
    return chosen


def run_technique(name, config, budget, seed, out, counts, labeled=None):
    """Run one technique in this process: `(test accuracy, the folder it
    wrote)`, or `(None, None)` when it needs unlabelled images and the
    budget leaves none. `labeled`: the pool indices to label instead of
    a budget per class."""
    if budget is None and labeled is None and name in SEMI_SUPERVISED:
        return None, None
    command, options = technique_options(name, config, budget, counts)
    options.update(common_options(config, budget, seed, out))
    if labeled is not None:
        options["labeled_indices"] = sorted(int(i) for i in labeled)
    done = os.path.join(out, DONE_FILE)
    recorded = read_json(done) if os.path.exists(done) else {}
    if (not config.fresh and recorded.get("options") == options
            and "test_accuracy" in recorded):
        progress.say(f"reusing {out} (same run finished before)")
        return recorded["test_accuracy"], recorded.get("out", out)
    from kzoo.run import run

    # --fresh also discards the run's own backups; not part of what it
    # records, so the same command without --fresh reuses it afterwards.
    result = run(command, fresh=config.fresh, **options)
    write_json(done, {"command": command, "options": options,
                      "test_accuracy": result.test_accuracy, "out": result.out})
    return result.test_accuracy, result.out


def read_json(path):
    with open(path) as f:
        return json.load(f)


def technique_options(name, config, budget, counts):
    """`(command, its options)` of a technique."""
    epochs = supervised_epochs(config, budget, counts)
    if name in ("supervised", "supervised_augment"):
        augment = "none" if name == "supervised" else config.augment
        return "train", dict(model=config.model, augment=augment, epochs=epochs)
    if name == "pseudo_label":
        return "pseudo-label", dict(model=config.model, augment=config.augment)
    if name in ("fixmatch", "flexmatch"):
        return "fixmatch", dict(model=config.model, augment=config.augment,
                                flexmatch=name == "flexmatch")
    if name in ("noisy_student", "fixmatch_noisy_student"):
        rounds = 1 if config.smoke else config.rounds
        method = "fixmatch" if name == "fixmatch_noisy_student" else "supervised"
        return "noisy-student", dict(model=config.model, augment=config.augment,
                                     rounds=rounds, epochs=epochs,
                                     teacher_method=method)
    if name == "distillation":
        return "distill", dict(teacher=config.teacher, student=config.model,
                               unlabeled=True, compare=False)
    return "transfer", dict(source=config.source, mode="finetune", epochs=epochs)


def common_options(config, budget, seed, out):
    options = dict(data=config.data, seed=seed, out=out, smoke=config.smoke,
                   labels_per_class=budget, classes=config.classes,
                   data_dir=config.data_dir, input_size=config.input_size)
    options.update((k, config.get(k)) for k in RUNTIME_OPTIONS)
    return options


def supervised_epochs(config, budget, counts):
    """Epochs giving about --steps updates at batch 16, clamped to [15, 400].

    Args:
        counts: `(labelled images when all are labelled, classes)`.
    """
    labelled = counts[0] if budget is None else budget * counts[1]
    passes = -(-config.steps // -(-labelled // 16))
    return min(400, max(15, passes))


def summary(runs):
    if not runs:
        return None
    values = np.asarray(runs, dtype=float)
    return {"runs": runs, "mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max())}


def plot_report(report, path):
    x_of = {b: (report["all_labels_per_class"] if b == ALL else int(b))
            for b in report["budgets"]}
    series = {}
    for name, by_budget in report["results"].items():
        rows = [(x_of[b], by_budget[b]) for b in report["budgets"] if by_budget.get(b)]
        if rows:
            series[name] = ([x for x, _ in rows], [r["mean"] for _, r in rows],
                            [r["std"] for _, r in rows])
    title = (f"{report['model']} on {report['data']}: mean ± std over seeds "
             f"{report['seeds']} ('all' at {report['all_labels_per_class']:.0f})")
    if report.get("budget_unit") == "images":
        title = (f"{report['model']} on {report['data']}, labelled images chosen "
                 f"on {report['embedding']}: mean ± std over seeds {report['seeds']}")
    plot_lines(series, path, xlabel=f"labelled images {_unit(report)}",
               ylabel="test accuracy", title=title, xscale="log")


def print_table(report):
    budgets = report["budgets"]
    width = max([20] + [len(name) + 2 for name in report["results"]])
    progress.say(f"\n{'technique':<{width}}"
                 + "".join(f"{b + ' ' + _unit(report, short=True):>18}"
                           for b in budgets))
    for name, by_budget in report["results"].items():
        cells = []
        for b in budgets:
            r = by_budget.get(b)
            cells.append("-" if r is None else f"{r['mean']:.4f} ± {r['std']:.4f}")
        progress.say(f"{name:<{width}}" + "".join(f"{c:>18}" for c in cells))
    for row, by_budget in report.get("coverage", {}).items():
        progress.say(f"classes the labels of {row} cover: " + "; ".join(
            f"{b} labels: {np.mean(c):.1f} of {report['num_classes']} "
            f"(seeds {', '.join(map(str, c))})" for b, c in by_budget.items()))


def _unit(report, short=False):
    if report.get("budget_unit") == "images":
        return "in all" if not short else "labels"
    return "per class" if not short else "/class"
