"""Transfer a trained model to new classes: new head only, fine-tune, or scratch.

    python recipes/train.py --classes 0,1,2,3,4 --out saved_models/digits-0to4
    python recipes/transfer.py --source saved_models/digits-0to4/1 \\
        --classes 5,6,7,8,9 --labels-per-class 5 --mode all

--mode head trains a new classifier on the frozen backbone (BatchNorm in
inference mode); finetune trains everything, the backbone at
--backbone-lr-multiplier times --lr; scratch trains the same architecture
from random weights (the baseline); all runs the three and prints them side
by side. The source is a .keras file or a SavedModel exported by kzoo; its
input size and channels are used. Each mode writes config.json,
metrics.json, model.keras and a SavedModel under --out/<mode>; --out gets
transfer.json with the table. Every other flag is `recipes/train.py`'s.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import train as train_recipe  # noqa: E402

from kzoo import cli  # noqa: E402
from kzoo.training import finetune_optimizer, load_model_source, transfer_model  # noqa: E402
from kzoo.training.transfer import MODES  # noqa: E402


def build_parser():
    p = train_recipe.build_parser()
    p.description = __doc__.splitlines()[0]
    p.add_argument(
        "--source",
        required=True,
        help=".keras file or kzoo SavedModel folder of the trained model",
    )
    p.add_argument("--mode", choices=MODES + ("all",), default="head")
    p.add_argument(
        "--backbone-lr-multiplier",
        type=cli.non_negative_float,
        default=0.1,
        help="backbone learning rate / head learning rate (finetune)",
    )
    p.add_argument(
        "--feature-layer",
        default=None,
        help="last backbone layer (default: all but the classifier)",
    )
    p.add_argument("--head-dropout", type=cli.rate, default=0.0)
    cli.not_applicable(p, model="the model is --source with a new head",
                       width="the backbone is --source's",
                       dropout="use --head-dropout")
    return p


def main(argv=None):
    args = cli.parse_args(build_parser(), argv)
    with train_recipe.session(args) as run:
        return run_recipe(args, run)


def run_recipe(args, run):
    source = load_model_source(args.source)
    args, data = train_recipe.load_data_for_model(args, source)
    out = run.output_dir(
        args.out or os.path.join("saved_models", f"transfer-{data.name}"))
    train_recipe.describe_data(data)
    modes = MODES if args.mode == "all" else (args.mode,)
    table = {}
    for mode in modes:
        table[mode] = run_mode(mode, source, args, data, os.path.join(out, mode))
    cli.write_json(os.path.join(out, "transfer.json"), table)
    print(f"\n{'mode':<10} {'test accuracy':>13}  SavedModel")
    for mode, row in table.items():
        print(f"{mode:<10} {row['test_accuracy']:>13.4f}  {row['saved_model']}")
    return 0


def run_mode(mode, source, args, data, out):
    """Train one mode from the same seed; returns its table row."""
    keras.utils.set_random_seed(args.seed)
    model = transfer_model(
        source,
        data.num_classes,
        mode=mode,
        feature_layer=args.feature_layer,
        dropout=args.head_dropout,
    )
    train_recipe.write_config(args, data, out, transfer_mode=mode)
    optimizer = train_recipe.make_optimizer(args, data.counts["train"])
    if mode == "finetune":
        optimizer = finetune_optimizer(optimizer, model, args.backbone_lr_multiplier)
    train_recipe.compile_model(model, args, data.counts["train"], optimizer)
    print(
        f"\n== {mode}: {model.count_params():,} parameters, "
        f"{sum(int(keras.ops.size(w)) for w in model.trainable_weights):,} trainable"
    )
    train_recipe.fit(model, args, data, out)
    metrics, version_dir = train_recipe.finish(model, args, data, out)
    print(f"{mode}: test accuracy {metrics['test_accuracy']:.4f}")
    return {"test_accuracy": metrics["test_accuracy"], "saved_model": version_dir}


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
