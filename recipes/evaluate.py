"""Score an exported SavedModel through its `serving_default` signature.

    python recipes/evaluate.py --model saved_models/lenet5-digits/1 --data digits

Test images are fed encoded (file bytes, or PNG for in-memory data), exactly
as TF Serving would receive them; predicted class names are matched to the
data's class names.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from kzoo import cli  # noqa: E402
from kzoo.analysis import classification_report  # noqa: E402
from kzoo.data import load_data  # noqa: E402
from kzoo.errors import KzooError  # noqa: E402
from kzoo.export import load_serving_signature  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="SavedModel version folder")
    cli.add_data_flags(p)
    p.add_argument("--task", default=None,
                   help="output of a multi-task export to score, e.g. 'new' or 'old' "
                        "(an LwF model); default: the single output")
    p.add_argument("--batch-size", type=cli.positive_int, default=64)
    p.add_argument("--out", default=None, help="optional metrics JSON path")
    return p


def evaluate_saved_model(model_dir, data, batch_size=64, task=None):
    """Run the test split through the signature; returns the report dict.

    `task` picks the `<task>_classes` output of a multi-task export.
    """
    if not os.path.isdir(model_dir):
        raise FileNotFoundError(f"No SavedModel folder at {model_dir}")
    serve = load_serving_signature(model_dir)
    key = f"{task}_classes" if task else "classes"
    if key not in serve.structured_outputs:
        tasks = sorted(k[:-len("_classes")] for k in serve.structured_outputs
                       if k.endswith("_classes"))
        raise KzooError(
            f"The model has no output '{key}'. "
            + (f"Pick a task with --task: {tasks}." if tasks else "It has one task: "
               "leave out --task.")
        )
    index = {name: i for i, name in enumerate(data.class_names)}
    y_true, y_pred = [], []
    for encoded, labels in data.test_encoded().batch(batch_size):
        names = serve(images=encoded)[key].numpy()
        for name in names:
            name = name.decode()
            if name not in index:
                raise KzooError(
                    f"The model predicts class '{name}', which the data does not "
                    f"have (data classes: {data.class_names})."
                )
            y_pred.append(index[name])
        y_true.extend(labels.numpy().tolist())
    return classification_report(np.array(y_true), np.array(y_pred), data.class_names)


def main(argv=None):
    args = cli.parse_args(build_parser(), argv)
    # The image size is irrelevant here: the signature decodes and resizes.
    data = load_data(args.data, data_dir=args.data_dir, download=args.download,
                     seed=args.seed, classes=args.classes)
    report = evaluate_saved_model(args.model, data, args.batch_size, args.task)
    print(f"test accuracy {report['accuracy']:.4f} on {report['num_examples']} "
          f"images of '{data.name}'")
    for name, acc in report["per_class_accuracy"].items():
        print(f"  {name:>12}: {'n/a' if acc is None else f'{acc:.4f}'}")
    if args.out:
        cli.write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
