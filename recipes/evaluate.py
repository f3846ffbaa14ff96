"""Score an exported SavedModel through its `serving_default` signature.

    python recipes/evaluate.py --model saved_models/lenet5-digits/1 --data digits
    python recipes/evaluate.py --model saved_models/lenet5-digits   # latest version

Test images are fed encoded (file bytes, or PNG for in-memory data), exactly
as TF Serving would receive them; predicted class names are matched to the
data's class names. The files the data scan skipped (not decodable, over
the pixel limit, not regular files: in any split, so in the test split
too) are counted, listed with their reasons and recorded in the report
(`skipped_files`), never scored.
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
from kzoo.export import load_serving_signature, versions  # noqa: E402


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True,
                   help="SavedModel version folder, or a base folder of "
                        "numbered versions (the latest is scored)")
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
    serve = load_serving_signature(resolve_version(model_dir))
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


def resolve_version(path):
    """`path` if it is a SavedModel, else its highest numbered version
    folder (TF Serving's choice).

    Raises:
        KzooError: Neither a SavedModel nor a folder of versions.
    """
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    numbered = [v for v in versions(path)
                if os.path.isfile(os.path.join(path, str(v), "saved_model.pb"))]
    if not numbered:
        raise KzooError(
            f"No SavedModel at {path}: expected a version folder (holding "
            "saved_model.pb) or a base folder of numbered versions.")
    latest = os.path.join(path, str(numbered[-1]))
    print(f"scoring the latest version: {latest}")
    return latest


def main(argv=None):
    args = cli.parse_args(build_parser(), argv)
    # The image size is irrelevant here: the signature decodes and resizes.
    data = load_data(args.data, data_dir=args.data_dir, download=args.download,
                     seed=args.seed, classes=args.classes)
    report = evaluate_saved_model(args.model, data, args.batch_size, args.task)
    report["skipped_files"] = list(data.skipped_files)
    print(f"test accuracy {report['accuracy']:.4f} on {report['num_examples']} "
          f"images of '{data.name}'; files the data scan skipped: "
          f"{len(data.skipped_files)}")
    cli.print_skipped(data)
    for name, acc in report["per_class_accuracy"].items():
        print(f"  {name:>12}: {'n/a' if acc is None else f'{acc:.4f}'}")
    if args.out:
        cli.write_json(args.out, report)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run_main(main))
