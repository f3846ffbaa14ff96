"""Search RandAugment's (N, M): train briefly per pair, score on validation.

    python recipes/randaugment_search.py --labels-per-class 10 --trials 8
    python recipes/randaugment_search.py --data DIR --model vgg11_bn --width 0.25 \\
        --sampler grid --n-values 1,2 --m-values 5,10,15

Every trial trains the same model from the same seed on the same labelled
budget with policy `--augment` (its `{n}` and `{m}` filled in) and is scored
on the validation split carved from train; the test split is not touched
until the end. Then the best (N, M) and a no-augmentation baseline are
retrained with the same settings and both are scored on the test split; the
best model is exported as a SavedModel. A trial that fails is recorded with
its error and the search goes on. Writes to --out: search.json (updated
after every trial), heatmap.png, config.json and the SavedModel version.
Running the same command again into the same --out keeps the trials
search.json already holds and runs the rest (a trial is the unit of
resumption: trials are short and keep no backup). Every other flag is
`recipes/train.py`'s. On the bundled digits the budget is 10 labels per
class unless --labels-per-class/--label-fraction says; other data keeps
every label.
"""

import itertools
import json
import os
import random
import sys
import time
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import train as train_recipe  # noqa: E402

from kzoo import cli  # noqa: E402
from kzoo.analysis import plot_search_heatmap  # noqa: E402
from kzoo.errors import KzooError  # noqa: E402
from kzoo.export import export_saved_model  # noqa: E402

TEMPLATE = "crop,randaugment(n={n},m={m})"


def int_list(text):
    return [int(v) for v in text.split(",") if v.strip()]


def build_parser():
    p = train_recipe.build_parser()
    p.description = __doc__.splitlines()[0]
    p.set_defaults(augment=TEMPLATE, epochs=100)
    p.add_argument(
        "--trials",
        type=cli.positive_int,
        default=8,
        help="(N, M) pairs to try with --sampler random",
    )
    p.add_argument(
        "--sampler",
        choices=("random", "grid"),
        default="random",
        help="random: --trials distinct pairs; grid: every pair",
    )
    p.add_argument("--n-values", type=int_list, default=[1, 2, 3])
    p.add_argument("--m-values", type=int_list, default=list(range(1, 31, 2)))
    return p


def sample_pairs(args):
    """The (N, M) pairs to try, in trial order."""
    grid = list(itertools.product(args.n_values, args.m_values))
    if not grid:
        raise KzooError("--n-values and --m-values must not be empty")
    if args.sampler == "grid":
        return grid
    return random.Random(args.seed).sample(grid, min(args.trials, len(grid)))


def train_and_score(args, data, spec, split):
    """Train from scratch with policy `spec`; accuracy on 'val' or 'test'."""
    keras.utils.set_random_seed(args.seed)
    run_args = cli.copy_args(args, augment=spec)
    model = train_recipe.build_model(run_args, data)
    train_recipe.compile_model(model, run_args, data.counts["train"])
    train, val, test = train_recipe.make_datasets(data, run_args)
    steps_per_epoch, _ = train_recipe.fit_plan(run_args, data.counts["train"])
    model.fit(
        train,
        epochs=1 if args.smoke else args.epochs,
        verbose=0,
        shuffle=False,
        steps_per_epoch=steps_per_epoch,
    )
    if split == "val":
        return model, float(
            model.evaluate(val, verbose=0, return_dict=True)["accuracy"]
        )
    return model, train_recipe.evaluate(model, test, data.class_names)["test_accuracy"]


def run_trials(args, data, pairs, record):
    for i, (n, m) in enumerate(pairs):
        if i < len(record["trials"]):
            continue  # finished by an earlier run of the same command
        spec = args.augment.format(n=n, m=m)
        trial = {"trial": i, "n": n, "m": m, "policy": spec}
        start = time.perf_counter()
        try:
            _, trial["val_accuracy"] = train_and_score(args, data, spec, "val")
        except Exception as err:  # a failed trial is a result, not the end
            trial["error"] = f"{type(err).__name__}: {err}"
            trial["traceback"] = traceback.format_exc(limit=5)
        trial["seconds"] = round(time.perf_counter() - start, 2)
        record["trials"].append(trial)
        record.save()
        result = (
            f"val accuracy {trial['val_accuracy']:.4f}"
            if "val_accuracy" in trial
            else f"FAILED ({trial['error']})"
        )
        print(
            f"trial {i + 1}/{len(pairs)} N={n} M={m}: {result} in {trial['seconds']} s",
            flush=True,
        )


class SearchRecord(dict):
    """search.json, rewritten atomically after every change; the trials of
    an earlier run with the same config are kept."""

    def __init__(self, path, config):
        super().__init__(config=config, trials=[])
        self.path = path
        if os.path.exists(path):
            with open(path) as f:
                earlier = json.load(f)
            if earlier.get("config") == json.loads(json.dumps(config)):
                self["trials"] = earlier["trials"]
                print(f"keeping {len(self['trials'])} finished trials of {path}")

    def save(self):
        cli.write_json(self.path, dict(self))


# The search's budget on the bundled digits (see `train.demo_budget`).
DEMO_LABELS_PER_CLASS = 10


def main(argv=None):
    args = train_recipe.demo_budget(cli.parse_args(build_parser(), argv),
                                    DEMO_LABELS_PER_CLASS)
    with train_recipe.session(args) as run:
        return run_recipe(args, run)


def run_recipe(args, run):
    if "{n}" not in args.augment or "{m}" not in args.augment:
        raise KzooError(
            f"--augment must contain {{n}} and {{m}}. Received: {args.augment!r}"
        )
    if not (args.val_fraction and args.val_fraction > 0):
        raise KzooError(
            "the search scores trials on the validation split; "
            "--val-fraction must be > 0"
        )
    pairs = sample_pairs(args)
    size = train_recipe.input_size(args)
    n, m = pairs[0]  # fail on a bad template before loading data
    train_recipe.make_policy(args.augment.format(n=n, m=m), (size, size), None, 0)
    data = train_recipe.load_training_data(args, size)
    train_recipe.build_model(args, data)  # an unusable --input-size fails here
    out = run.output_dir(args.out or os.path.join(
        "saved_models", f"randaugment_search-{args.model}-{data.name}"
    ))
    config = cli.record_config(dict(vars(args), input_size=size), output_dir=out,
                               counts=data.counts, class_names=data.class_names)
    cli.write_json(os.path.join(out, "config.json"), config)
    record = SearchRecord(os.path.join(out, "search.json"), config)
    print(
        f"data '{data.name}': {data.counts}; {len(pairs)} trials of {args.epochs} "
        f"epochs, policy '{args.augment}'",
        flush=True,
    )

    run_trials(args, data, pairs, record)
    done = [t for t in record["trials"] if "val_accuracy" in t]
    plot_search_heatmap(record["trials"], os.path.join(out, "heatmap.png"))
    if not done:
        raise KzooError(f"every trial failed; see {record.path}")
    best = max(done, key=lambda t: (t["val_accuracy"], -t["n"], -t["m"]))
    model, best_test = train_and_score(args, data, best["policy"], "test")
    _, baseline_test = train_and_score(args, data, "none", "test")
    record["best"] = {
        "n": best["n"],
        "m": best["m"],
        "policy": best["policy"],
        "val_accuracy": best["val_accuracy"],
        "test_accuracy": best_test,
    }
    record["baseline"] = {"policy": "none", "test_accuracy": baseline_test}
    record["failed_trials"] = len(record["trials"]) - len(done)
    version_dir = export_saved_model(model, out, data.class_names)
    record["saved_model"] = version_dir
    record.save()
    print(
        f"best N={best['n']} M={best['m']} (val {best['val_accuracy']:.4f}): "
        f"test accuracy {best_test:.4f} vs {baseline_test:.4f} without augmentation; "
        f"SavedModel: {version_dir}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
