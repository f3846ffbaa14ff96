"""Learning without Forgetting: add a task to a trained model, keep the old one.

    python recipes/train.py --classes 0,1,2,3,4 --out saved_models/digits-0to4
    python recipes/lwf.py --old-model saved_models/digits-0to4/1 \\
        --old-classes 0,1,2,3,4 --classes 5,6,7,8,9

Methods (Li & Hoiem 2018, Table 1 on our data), all from the same warm-up
(backbone and old head frozen, new head trained for --warmup-epochs):
- feature: stop after the warm-up (feature extraction);
- finetune: then train backbone + new head on the new task (old head fixed);
- lwf: then train everything with the new-task loss plus --old-loss-weight
  times the T²-scaled distillation to the old head's recorded outputs.
Old-task accuracy is measured on the old classes' test split, which no
method sees. Each method exports one SavedModel serving both tasks
(`old_classes`, `new_classes`, ... outputs; score one with
`recipes/evaluate.py --task old|new --classes ...`) under --out/<method>;
--out gets lwf.json with the table. Every other flag is `recipes/train.py`'s.
"""

import dataclasses
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import train as train_recipe  # noqa: E402

from kzoo import cli  # noqa: E402
from kzoo.data import batched  # noqa: E402
from kzoo.errors import KzooError  # noqa: E402
from kzoo.export import export_saved_model  # noqa: E402
from kzoo.outputs import save_keras  # noqa: E402
from kzoo.training import LwFModel, load_model_source  # noqa: E402

METHODS = ("feature", "finetune", "lwf")


def build_parser():
    p = train_recipe.build_parser()
    p.description = __doc__.splitlines()[0]
    p.add_argument(
        "--old-model",
        required=True,
        help=".keras file or kzoo SavedModel of the old-task model",
    )
    p.add_argument(
        "--old-classes",
        type=cli.name_list,
        required=True,
        help="the old task's classes in the data spec, in the model's order",
    )
    p.add_argument("--method", choices=METHODS + ("all",), default="all")
    p.add_argument("--warmup-epochs", type=cli.positive_int, default=30)
    p.add_argument("--temperature", type=cli.positive_float, default=2.0)
    p.add_argument("--old-loss-weight", type=cli.non_negative_float, default=1.0)
    cli.not_applicable(p, model="the network is --old-model with a new head",
                       width="the backbone is --old-model's",
                       dropout="the new head has no dropout")
    return p


def main(argv=None):
    args = cli.parse_args(build_parser(), argv)
    with train_recipe.session(args) as run:
        return run_recipe(args, run)


def run_recipe(args, run):
    old_model = load_model_source(args.old_model)
    if old_model.output_shape[-1] != len(args.old_classes):
        raise KzooError(
            f"The old model has {old_model.output_shape[-1]} classes; "
            f"--old-classes names {len(args.old_classes)}."
        )
    args, data = train_recipe.load_data_for_model(args, old_model)
    _, old_data = train_recipe.load_data_for_model(
        args, old_model, classes=args.old_classes, labels_per_class=None,
        label_fraction=None,
    )
    old_test = batched(old_data.test, args.batch_size)  # whole split, also with --smoke
    out = run.output_dir(args.out or os.path.join("saved_models", f"lwf-{data.name}"))
    train_recipe.describe_data(data)
    before = train_recipe.evaluate(old_model, old_test, old_data.class_names)
    print(f"old model on the old task: {before['test_accuracy']:.4f}")
    methods = METHODS if args.method == "all" else (args.method,)
    table = {"old_task_accuracy_before": before["test_accuracy"], "methods": {}}
    for method in methods:
        row = run_method(
            method, old_model, args, data, old_data, os.path.join(out, method)
        )
        row["old_task_drop"] = before["test_accuracy"] - row["old_task_accuracy"]
        table["methods"][method] = row
    cli.write_json(os.path.join(out, "lwf.json"), table)
    print(f"\n{'method':<10} {'new task':>9} {'old task':>9} {'old drop':>9}")
    for method, row in table["methods"].items():
        print(
            f"{method:<10} {row['new_task_accuracy']:>9.4f} "
            f"{row['old_task_accuracy']:>9.4f} {row['old_task_drop']:>9.4f}"
        )
    return 0


def run_method(method, old_model, args, data, old_data, out):
    keras.utils.set_random_seed(args.seed)
    weight = 0.0 if method == "finetune" else args.old_loss_weight
    model = LwFModel(
        old_model,
        data.num_classes,
        temperature=args.temperature,
        old_loss_weight=weight,
        label_smoothing=args.label_smoothing,
    )
    recorded = dataclasses.replace(
        data,
        train=model.record_old_outputs(data.train),
        val=model.record_old_outputs(data.val) if data.val is not None else None,
    )
    train_recipe.write_config(args, data, out, method=method)
    print(f"\n== {method}: warm-up ({args.warmup_epochs} epochs, new head only)")
    model.freeze(backbone=True, old_head=True)
    train_recipe.compile_model(model, args, data.counts["train"])
    train_recipe.fit(model, args, recorded, out, epochs=args.warmup_epochs,
                     backup="backup_warmup")
    if method != "feature":
        print(f"== {method}: joint training ({args.epochs} epochs)")
        model.freeze(backbone=False, old_head=method == "finetune")
        train_recipe.compile_model(model, args, data.counts["train"])
        train_recipe.fit(model, args, recorded, out, backup="backup_joint")
    return finish(model.network, args, data, old_data, out)


def finish(network, args, data, old_data, out):
    """Score both tasks, write metrics.json, export one SavedModel for both."""
    new_test = train_recipe.test_dataset(data, args)
    old_test = train_recipe.test_dataset(old_data, args)
    new = train_recipe.evaluate(network, new_test, data.class_names, output="new")
    old = train_recipe.evaluate(network, old_test, old_data.class_names, output="old")
    cli.write_json(
        os.path.join(out, "metrics.json"), {"new_task": new, "old_task": old}
    )
    save_keras(network, os.path.join(out, "model.keras"))
    version_dir = export_saved_model(
        network, out, {"old": old_data.class_names, "new": data.class_names}
    )
    train_recipe.record_with_version(out, version_dir)
    print(
        f"new task {new['test_accuracy']:.4f}, old task {old['test_accuracy']:.4f}; "
        f"SavedModel: {version_dir}"
    )
    return {
        "new_task_accuracy": new["test_accuracy"],
        "old_task_accuracy": old["test_accuracy"],
        "saved_model": version_dir,
    }


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
