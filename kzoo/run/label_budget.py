"""Accuracy against labels per class, one line per technique:
`kzoo label-budget`.

Each cell of the report (budget x technique x seed) is a call of the
technique's library function (`kzoo.run.run`), whose `RunResult` gives
the test accuracy; a finished cell is recorded in its folder
(`label_budget_run.json`, with the options it ran with) and reused when
the same report runs again.
"""

import os
from typing import NamedTuple

import keras
import numpy as np

from kzoo import runtime
from kzoo.analysis import plot_lines
from kzoo.data import load_data
from kzoo.errors import KzooError
from kzoo.outputs import OutputLock, write_json
from kzoo.run import inputs, label_selection, progress
from kzoo.run.commands import get_command
from kzoo.run.config import record_config
from kzoo.run.result import RunResult
from kzoo.run.reuse import run_recorded
from kzoo.run.session import run_dir

ALL = "all"
DONE_FILE = "label_budget_run.json"
RUNTIME_OPTIONS = ("strategy", "deterministic", "mixed_precision")


class Technique(NamedTuple):
    """One line of the report.

    Attributes:
        name: The line's name (`--techniques`).
        command: The command that runs it.
        fixed: Options it always runs with.
        takes: Options it takes from the report (`report_options`).
        pool: Needs unlabelled images (no cell at budget 'all').
        default: Runs without --techniques (the opt-in ones each take
            about as long as FixMatch itself: minutes a run).
        needs: The report option it needs ('teacher', 'source'), if any.
    """

    name: str
    command: str
    fixed: dict
    takes: tuple = ("model", "augment")
    pool: bool = True
    default: bool = True
    needs: str | None = None


TECHNIQUES = (
    Technique("supervised", "train", {"augment": "none"}, ("model", "epochs"),
              pool=False),
    Technique("supervised_augment", "train", {}, ("model", "augment", "epochs"),
              pool=False),
    Technique("pseudo_label", "pseudo-label", {}),
    Technique("noisy_student", "noisy-student", {"teacher_method": "supervised"},
              ("model", "augment", "rounds", "epochs")),
    # Every `kzoo fixmatch --variant`: fixmatch by default, the others on
    # request (read from the command's definition: a new variant is a line
    # here without an edit).
    *(Technique(variant, "fixmatch", {"variant": variant},
                default=variant == "fixmatch")
      for variant in get_command("fixmatch").option("variant").choices),
    Technique("fixmatch_noisy_student", "noisy-student",
              {"teacher_method": "fixmatch"},
              ("model", "augment", "rounds", "epochs"), default=False),
    Technique("distillation", "distill", {"unlabeled": True, "compare": False},
              ("teacher", "student"), pool=False, needs="teacher"),
    Technique("transfer", "transfer", {"mode": "finetune"}, ("source", "epochs"),
              pool=False, needs="source"),
)
BY_NAME = {t.name: t for t in TECHNIQUES}


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
    """The names of --techniques, or every default one that applies.

    Raises:
        KzooError: A name that is unknown or needs a missing option.
    """
    available = [t.name for t in TECHNIQUES if not t.needs or config.get(t.needs)]
    chosen = config.techniques or [n for n in available if BY_NAME[n].default]
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
    a budget per class. A run recorded in `out` with the same options is
    reused (--fresh runs it again)."""
    technique = BY_NAME[name]
    if budget is None and labeled is None and technique.pool:
        return None, None
    options = technique_options(technique, config, budget, counts)
    options.update(common_options(config, budget, seed, out))
    if labeled is not None:
        options["labeled_indices"] = sorted(int(i) for i in labeled)
    record, _ = run_recorded(technique.command, options,
                             os.path.join(out, DONE_FILE), fresh=config.fresh,
                             upgrade=upgrade_options)
    return record["test_accuracy"], record.get("out", out)


def upgrade_options(options):
    """A cell's recorded options as this version writes them: FixMatch's
    cells recorded `flexmatch: true|false` before `--variant`."""
    if "flexmatch" not in options:
        return options
    options = dict(options)
    options["variant"] = "flexmatch" if options.pop("flexmatch") else "fixmatch"
    return options


def technique_options(technique, config, budget, counts):
    """A technique's options: what it takes from the report, then its
    fixed ones."""
    available = {
        "model": config.model, "student": config.model, "augment": config.augment,
        "epochs": supervised_epochs(config, budget, counts),
        "rounds": 1 if config.smoke else config.rounds,
        "teacher": config.teacher, "source": config.source}
    return {**{k: available[k] for k in technique.takes}, **technique.fixed}


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
