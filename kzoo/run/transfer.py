"""Transfer learning: `kzoo transfer`.

A trained model (--source, a `.keras` file or a kzoo SavedModel) goes to new
classes, at the source's input size and channels, by --mode:

- head: a new classifier on the frozen backbone (BatchNorm in inference
  mode);
- finetune: everything trains, the backbone at --backbone-lr-multiplier
  times --lr;
- scratch: the same architecture from random weights (the baseline);
- all: the three side by side, each from the same seed.

The backbone ends at the model's feature end (its registry entry's, see
`kzoo.training.transfer.features_of`) or at --feature-layer.
"""

import dataclasses
import os

import keras

from kzoo.outputs import write_json
from kzoo.run import finish, fitting, inputs, progress, sources
from kzoo.run.options import TRANSFER_MODES
from kzoo.run.result import RunResult
from kzoo.run.session import session
from kzoo.training import finetune_optimizer, transfer_model


def transfer(config):
    """Train --source's backbone under a new head for --classes, by --mode.

    Args:
        config: A `RunConfig` of `transfer` (`kzoo.run.configure("transfer",
            ...)`).

    Returns:
        `RunResult`; `report` is `transfer.json` (a row per mode). With one
        --mode, `metrics`, `saved_model` and `model` are that mode's; with
        `all` they are None.

    Raises:
        KzooError: The source cannot be loaded or cut (no Keras layers, an
            unknown --feature-layer).
    """
    with session(config) as run:
        source = sources.load_trained(config.source, "source")
        config, data = inputs.load_data_for_model(config, source)
        modes = TRANSFER_MODES if config.mode == "all" else (config.mode,)
        build(modes[0], source, config, data)  # a source it cannot cut fails here
        out = sources.output_dir(run, config, data)
        inputs.describe_data(data)
        table, results = {}, []
        for mode in modes:
            result = run_mode(mode, source, config, data, os.path.join(out, mode))
            table[mode] = {"test_accuracy": result.test_accuracy,
                           "saved_model": result.saved_model}
            results.append(result)
        write_json(os.path.join(out, "transfer.json"), table)
    print_table(table)
    if len(modes) > 1:
        return RunResult("transfer", out, report=table)
    return dataclasses.replace(results[0], out=out, report=table)


def run_mode(mode, source, config, data, out):
    """Build, train (one phase named `mode`) and export one mode, seeded.

    Returns:
        The mode's `RunResult` (its folder, metrics, SavedModel, model).
    """
    model = build(mode, source, config, data)
    finish.write_config(config, data, out, transfer_mode=mode)
    fitting.compile_model(model, config, data.counts["train"],
                          optimizer(mode, model, config, data))
    progress.banner(f"{mode}: {sources.parameters(model)}")
    fitting.fit(model, config, data, out, phase=mode)
    metrics, version_dir = finish.finish(model, config, data, out)
    progress.say(f"{mode}: test accuracy {progress.number(metrics['test_accuracy'])}"
                 f" on {metrics['num_examples']} images; SavedModel: {version_dir}")
    return RunResult("transfer", out, metrics, version_dir, model=model)


def build(mode, source, config, data):
    """The source's backbone (to --feature-layer) under a new head, seeded.

    Raises:
        KzooError: The source has no Keras layers, or no --feature-layer.
    """
    keras.utils.set_random_seed(config.seed)
    return transfer_model(source, data.num_classes, mode=mode,
                          feature_layer=config.feature_layer,
                          dropout=config.head_dropout)


def optimizer(mode, model, config, data):
    """The run's optimizer; with `finetune` the backbone's learning rate is
    --backbone-lr-multiplier times the head's."""
    result = fitting.make_optimizer(config, data.counts["train"])
    if mode == "finetune":
        result = finetune_optimizer(result, model, config.backbone_lr_multiplier)
    return result


def print_table(table):
    """Each mode's test accuracy and SavedModel."""
    progress.say(f"\n{'mode':<10} {'test accuracy':>13}  SavedModel")
    for mode, row in table.items():
        progress.say(f"{mode:<10} {row['test_accuracy']:>13.4f}  {row['saved_model']}")
