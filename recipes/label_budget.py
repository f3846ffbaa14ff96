"""Accuracy against labels per class, one line per technique: the label-budget report.

    python recipes/label_budget.py --budgets 1,5,10,all --seeds 0,1,2
    python recipes/label_budget.py --data DIR --budgets 5,20 --teacher big.keras

At each budget (labelled images per class; 'all' = every training image
labelled) and seed, with the same --model, the techniques run as their
recipes do, each writing its outputs under --out/<budget>/<technique>/seed<k>/:

- supervised: train.py on the labelled images, no augmentation;
- supervised_augment: the same with --augment (default: crop);
- pseudo_label: pseudo_label.py (online pseudo-labels, Lee 2013);
- noisy_student: noisy_student.py (--rounds rounds);
- distillation (with --teacher): distill.py, the given teacher's soft targets
  on the labelled and unlabelled images;
- transfer (with --source): transfer.py --mode finetune from a source model.

Supervised runs train for about --steps updates (epochs = steps / steps per
pass, clamped to [15, 400]), so small budgets are not under-trained. A
technique that needs unlabelled images reports nothing at 'all'. Writes
report.json (per technique and budget: every seed's test accuracy, mean,
standard deviation, min, max) and report.png (mean ± std) after every
technique and budget, and prints the table. Re-running the same command
into the same --out reuses the runs that finished (each run's
label_budget_run.json records its command), so an interrupted report
continues where it stopped.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import argparse  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402

import keras  # noqa: E402
import numpy as np  # noqa: E402
import train as train_recipe  # noqa: E402

from kzoo import cli, runtime  # noqa: E402
from kzoo.analysis import plot_lines  # noqa: E402
from kzoo.data import load_data  # noqa: E402
from kzoo.errors import KzooError  # noqa: E402
from kzoo.outputs import OutputLock  # noqa: E402

ALL = "all"


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_data_flags(p)
    p.add_argument("--budgets", type=cli.name_list, default=["1", "5", "10", ALL],
                   help="labels per class, comma-separated; 'all' = fully labelled")
    p.add_argument("--seeds", type=cli.name_list, default=["0", "1", "2"])
    p.add_argument("--model", default="lenet5")
    p.add_argument("--input-size", type=cli.positive_int, default=None)
    p.add_argument("--augment", default="default",
                   help="policy of supervised_augment and the teachers")
    p.add_argument("--steps", type=cli.positive_int, default=1200,
                   help="approximate updates of each supervised run")
    p.add_argument("--rounds", type=cli.positive_int, default=2,
                   help="Noisy Student rounds")
    p.add_argument("--techniques", type=cli.name_list, default=None,
                   help="subset to run (default: all that apply)")
    p.add_argument("--teacher", default=None,
                   help=".keras/SavedModel teacher for the distillation line")
    p.add_argument("--source", default=None,
                   help=".keras/SavedModel source model for the transfer line")
    p.add_argument("--out", default=None)
    p.add_argument("--smoke", action="store_true",
                   help="wiring check: every run with --smoke, one round")
    train_recipe.add_runtime_flags(p)
    return p


def main(argv=None):
    args = cli.parse_args(build_parser(), argv)
    if args.strategy == "multiworker":
        raise KzooError(
            "label_budget.py does not run multi-worker: it reuses the runs that "
            "finished before, and workers with separate disks would not agree "
            "on which; run the recipes themselves with --strategy multiworker."
        )
    budgets = [parse_budget(b) for b in args.budgets]
    seeds = [int(s) for s in args.seeds]
    techniques = select_techniques(args)
    # Validates the spec once, up front; its counts place 'all' on the plot.
    data = load_data(args.data, data_dir=args.data_dir, download=args.download,
                     classes=args.classes)
    out = train_recipe.run_dir(
        args.out or os.path.join("saved_models", f"label_budget-{data.name}"),
        args.smoke)
    runtime.check_output_dir(out)
    lock = OutputLock(out)  # one report per folder at a time
    try:
        return run_report(args, data, budgets, seeds, techniques, out)
    finally:
        lock.release()


def run_report(args, data, budgets, seeds, techniques, out):
    cli.write_json(os.path.join(out, "config.json"),
                   cli.record_config(vars(args), output_dir=out))
    counts = (data.counts["train"], data.num_classes)
    report = {
        "data": data.name, "model": args.model, "seeds": seeds,
        "budgets": [budget_name(b) for b in budgets],
        "all_labels_per_class": data.counts["train"] / data.num_classes,
        "results": {name: {} for name in techniques},
    }
    for budget in budgets:
        for name in techniques:
            runs = []
            for seed in seeds:
                target = os.path.join(out, budget_name(budget), name, f"seed{seed}")
                accuracy = run_technique(name, args, budget, seed, target, counts)
                keras.backend.clear_session()
                if accuracy is None:  # needs unlabelled images
                    break
                runs.append(accuracy)
                print(f"[{budget_name(budget)} labels/class] {name} seed {seed}: "
                      f"test accuracy {accuracy:.4f}", flush=True)
            report["results"][name][budget_name(budget)] = summary(runs)
            write_report(report, out)  # after every cell: nothing lost
    print_table(report)
    print(f"report: {os.path.join(out, 'report.json')}, plot: "
          f"{os.path.join(out, 'report.png')}")
    return 0


def write_report(report, out):
    cli.write_json(os.path.join(out, "report.json"), report)
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
            f"--budgets takes positive integers or 'all'. Received: {text!r}"
        )
    return value


def budget_name(budget):
    return ALL if budget is None else str(budget)


def select_techniques(args):
    available = ["supervised", "supervised_augment", "pseudo_label", "noisy_student"]
    if args.teacher:
        available.append("distillation")
    if args.source:
        available.append("transfer")
    chosen = args.techniques or available
    unknown = [t for t in chosen if t not in available]
    if unknown:
        raise KzooError(
            f"Unknown or unavailable techniques {unknown}; available: {available} "
            "(distillation needs --teacher, transfer --source)"
        )
    return chosen


def run_technique(name, args, budget, seed, out, counts):
    """Run one technique's recipe in this process; its test accuracy, or
    None when it needs unlabelled images and the budget leaves none."""
    if budget is None and name in ("pseudo_label", "noisy_student"):
        return None
    recipe, flags, metrics_file = technique_flags(name, args, budget, counts)
    argv = common_flags(args, budget, seed, out) + flags
    done = os.path.join(out, "label_budget_run.json")
    if os.path.exists(done) and read_json(done)["argv"] == argv:
        print(f"reusing {out} (same run finished before)")
    else:
        if load_recipe(recipe).main(argv) != 0:
            raise KzooError(f"{recipe}.py failed: {' '.join(argv)}")
        cli.write_json(done, {"recipe": recipe, "argv": argv})
    run_out = train_recipe.run_dir(out, args.smoke)  # where --smoke runs write
    return read_json(os.path.join(run_out, metrics_file))["test_accuracy"]


def read_json(path):
    with open(path) as f:
        return json.load(f)


def technique_flags(name, args, budget, counts):
    """`(recipe, its flags, metrics file under its --out)` of a technique."""
    model = ["--model", args.model]
    epochs = ["--epochs", str(supervised_epochs(args, budget, counts))]
    if name in ("supervised", "supervised_augment"):
        augment = "none" if name == "supervised" else args.augment
        return "train", model + ["--augment", augment] + epochs, "metrics.json"
    if name == "pseudo_label":
        return "pseudo_label", model + ["--augment", args.augment], "metrics.json"
    if name == "noisy_student":
        rounds = "1" if args.smoke else str(args.rounds)
        return ("noisy_student",
                model + ["--augment", args.augment, "--rounds", rounds] + epochs,
                "metrics.json")
    if name == "distillation":
        return ("distill", ["--teacher", args.teacher, "--student", args.model,
                            "--unlabeled", "--no-compare"],
                os.path.join("distilled", "metrics.json"))
    return ("transfer", ["--source", args.source, "--mode", "finetune"] + epochs,
            os.path.join("finetune", "metrics.json"))


def common_flags(args, budget, seed, out):
    flags = ["--data", args.data, "--seed", str(seed), "--out", out]
    if budget is not None:
        flags += ["--labels-per-class", str(budget)]
    if args.classes:
        flags += ["--classes", ",".join(args.classes)]
    if args.data_dir:
        flags += ["--data-dir", args.data_dir]
    if args.input_size:
        flags += ["--input-size", str(args.input_size)]
    if args.smoke:
        flags.append("--smoke")
    return flags + train_recipe.runtime_argv(args)


def supervised_epochs(args, budget, counts):
    """Epochs giving about --steps updates at batch 16, clamped to [15, 400].

    Args:
        counts: `(labelled images when all are labelled, classes)`.
    """
    labelled = counts[0] if budget is None else budget * counts[1]
    passes = -(-args.steps // -(-labelled // 16))
    return min(400, max(15, passes))


def load_recipe(name):
    """A script of recipes/ as a module (recipes/ is on sys.path)."""
    return importlib.import_module(name)


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
    plot_lines(series, path, xlabel="labelled images per class",
               ylabel="test accuracy", title=title, xscale="log")


def print_table(report):
    budgets = report["budgets"]
    print(f"\n{'technique':<20}" + "".join(f"{b + ' /class':>18}" for b in budgets))
    for name, by_budget in report["results"].items():
        cells = []
        for b in budgets:
            r = by_budget.get(b)
            cells.append("-" if r is None else f"{r['mean']:.4f} ± {r['std']:.4f}")
        print(f"{name:<20}" + "".join(f"{c:>18}" for c in cells))


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
