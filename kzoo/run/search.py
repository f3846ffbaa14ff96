"""RandAugment's (N, M) searched on the validation split: `kzoo search`.

Every trial trains the same model from the same seed on the same labelled
budget with policy --augment (its `{n}` and `{m}` filled in) and is scored
on the validation split carved from train; the test split is not touched
until the end. Then the best (N, M) and a no-augmentation baseline are
retrained with the same settings and both are scored on the test split;
the best model is exported as a SavedModel. A trial that fails is recorded
with its error and the search goes on. Each trial, and each final retrain,
is one `fit` (one progress bar) writing its logs under `out/trials/trial<i>`
(`out/best`, `out/baseline`). `search.json` is rewritten after every
trial; the same command into the same --out keeps the trials it holds and
runs the rest.
"""

import itertools
import json
import os
import random
import time
import traceback

import keras

from kzoo.analysis import plot_search_heatmap
from kzoo.errors import KzooError
from kzoo.outputs import write_json
from kzoo.run import finish, fitting, inputs, progress
from kzoo.run.exporting import saved_model_note, write_exports
from kzoo.run.result import RunResult
from kzoo.run.session import current, session

# The search's budget on the bundled digits (see `inputs.demo_budget`).
DEMO_LABELS_PER_CLASS = 10


def search(config):
    """Try (N, M) pairs, retrain the best and a baseline, export the best.

    Args:
        config: A `RunConfig` of `search`.

    Returns:
        `RunResult` whose `metrics` hold the best model's `test_accuracy`
        and `val_accuracy` and the baseline's `baseline_test_accuracy`,
        whose `report` is `search.json`, with the best model.

    Raises:
        KzooError: A template without `{n}` and `{m}`, no validation split,
            empty --n-values/--m-values, or every trial failed.
    """
    config = inputs.demo_budget(config, DEMO_LABELS_PER_CLASS)
    check_template(config)
    with session(config) as run:
        pairs = sample_pairs(config)
        size = inputs.input_size(config)
        n, m = pairs[0]  # fail on a bad template before loading data
        inputs.make_policy(config.augment.format(n=n, m=m), (size, size), None, 0)
        data = inputs.load_training_data(config, size)
        # an unusable --input-size or --weights fails here
        inputs.build_model(config, data, weights=config.weights)
        out = run.output_dir(config.out or os.path.join(
            "saved_models", f"randaugment_search-{config.model}-{data.name}"))
        inputs.describe_data(data)
        recorded = finish.write_config(config, data, out, input_size=size)
        record = SearchRecord(os.path.join(out, "search.json"), recorded,
                              fresh=config.fresh)
        progress.say(f"{len(pairs)} trials of {config.epochs} epochs, policy "
                     f"'{config.augment}'")
        run_trials(config, data, pairs, record, out)
        model, metrics = retrain_best(config, data, record, out)
    return RunResult("search", out, metrics, record["saved_model"], dict(record),
                     model)


def check_template(config):
    """Raises KzooError unless --augment has `{n}` and `{m}` and there is a
    validation split to score trials on."""
    if "{n}" not in config.augment or "{m}" not in config.augment:
        raise KzooError(f"--augment must contain {{n}} and {{m}}. Received: "
                        f"{config.augment!r}")
    if not (config.val_fraction and config.val_fraction > 0):
        raise KzooError("the search scores trials on the validation split; "
                        "--val-fraction must be > 0. Received: "
                        f"--val-fraction {config.val_fraction}")


def sample_pairs(config):
    """The (N, M) pairs to try, in trial order (random: seeded by --seed)."""
    grid = list(itertools.product(config.n_values, config.m_values))
    if not grid:
        raise KzooError("--n-values and --m-values must not be empty. Received: "
                        f"{config.n_values}, {config.m_values}")
    if config.sampler == "grid":
        return grid
    return random.Random(config.seed).sample(grid, min(config.trials, len(grid)))


def train_and_score(config, data, spec, split, out, phase):
    """Train from scratch with policy `spec` (one `fit`, logs in `out`).

    Returns:
        `(model, accuracy)` on `split`: `"val"` (Keras's accuracy on the
        validation split) or `"test"` (the classification report's).
    """
    keras.utils.set_random_seed(config.seed)
    config = config.replace(augment=spec)
    model = inputs.build_model(config, data, weights=config.weights)
    fitting.compile_model(model, config, data.counts["train"])
    fitting.fit(model, config, data, out, phase=phase)
    if split == "val":
        scores = model.evaluate(inputs.val_dataset(data, config), verbose=0,
                                return_dict=True)
        return model, float(scores["accuracy"])
    report = finish.evaluate(model, inputs.test_dataset(data, config),
                             data.class_names)
    return model, report["test_accuracy"]


def run_trials(config, data, pairs, record, out):
    """Run the trials `record` does not hold yet, saving it after each."""
    for i, (n, m) in enumerate(pairs):
        if i < len(record["trials"]):
            continue  # finished by an earlier run of the same command
        spec = config.augment.format(n=n, m=m)
        name = f"trial {i + 1}/{len(pairs)} N={n} M={m}"
        progress.banner(f"{name}: policy '{spec}'")
        trial = {"trial": i, "n": n, "m": m, "policy": spec}
        start = time.perf_counter()
        try:
            _, trial["val_accuracy"] = train_and_score(
                config, data, spec, "val",
                os.path.join(out, "trials", f"trial{i}"), name)
        except Exception as err:  # a failed trial is a result, not the end
            trial["error"] = f"{type(err).__name__}: {err}"
            trial["traceback"] = traceback.format_exc(limit=5)
        trial["seconds"] = round(time.perf_counter() - start, 2)
        record["trials"].append(trial)
        record.save()
        if current() is not None:  # recorded: its backup restores nothing now
            current().release_backups(os.path.join(out, "trials", f"trial{i}"))
        result = (f"val accuracy {progress.number(trial['val_accuracy'])}"
                  if "val_accuracy" in trial else f"FAILED ({trial['error']})")
        progress.say(f"{name}: {result} in {trial['seconds']} s")


def retrain_best(config, data, record, out):
    """Plot the trials, retrain the best pair and the baseline, score both
    on the test split and export the best: `(model, metrics)`.

    Raises:
        KzooError: Every trial failed.
    """
    done = [t for t in record["trials"] if "val_accuracy" in t]
    plot_search_heatmap(record["trials"], os.path.join(out, "heatmap.png"))
    if not done:
        raise KzooError(f"every trial failed; see {record.path}")
    best = max(done, key=lambda t: (t["val_accuracy"], -t["n"], -t["m"]))
    progress.banner(f"best N={best['n']} M={best['m']}: retrained, scored on test")
    model, best_test = train_and_score(config, data, best["policy"], "test",
                                       os.path.join(out, "best"), "best")
    progress.banner("baseline: no augmentation, scored on test")
    _, baseline_test = train_and_score(config, data, "none", "test",
                                       os.path.join(out, "baseline"), "baseline")
    record["best"] = {"n": best["n"], "m": best["m"], "policy": best["policy"],
                      "val_accuracy": best["val_accuracy"],
                      "test_accuracy": best_test}
    record["baseline"] = {"policy": "none", "test_accuracy": baseline_test}
    record["failed_trials"] = len(record["trials"]) - len(done)
    record["saved_model"] = write_exports(model, config.export, out,
                                          data.class_names).get("savedmodel")
    record.save()
    number = progress.number
    progress.say(f"best N={best['n']} M={best['m']} (val "
                 f"{number(best['val_accuracy'])}): test accuracy "
                 f"{number(best_test)} vs {number(baseline_test)} without "
                 f"augmentation; {saved_model_note(record['saved_model'])}")
    return model, {"test_accuracy": best_test, "val_accuracy": best["val_accuracy"],
                   "baseline_test_accuracy": baseline_test}


class SearchRecord(dict):
    """`search.json`, rewritten atomically after every change; the trials
    of an earlier run with the same config are kept, unless `fresh`.

    Args:
        path: The file.
        config: The run's recorded config (`config.json`'s content).
        fresh: Start again (--fresh): the earlier trials are discarded.
    """

    def __init__(self, path, config, fresh=False):
        super().__init__(config=config, trials=[])
        self.path = path
        if os.path.exists(path):
            with open(path) as f:
                earlier = json.load(f)
            if fresh:
                progress.say(f"--fresh: discarding the {len(earlier['trials'])} "
                             f"finished trials of {path}")
            elif earlier.get("config") == json.loads(json.dumps(config)):
                self["trials"] = earlier["trials"]
                progress.say(f"keeping {len(self['trials'])} finished trials of "
                             f"{path}")

    def save(self):
        write_json(self.path, dict(self))
