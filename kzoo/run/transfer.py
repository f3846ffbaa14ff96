"""Transfer learning: `kzoo transfer`.

A trained model (--source: a kzoo run folder, `.keras` file or kzoo
SavedModel; or a registered model name with --weights, e.g. `--source vgg16
--weights imagenet`, built at --input-size without its classifier) goes to
new classes, at the source's input size and channels, by --mode:

- head: a new classifier on the frozen backbone (BatchNorm in inference
  mode). With --augment none (the default) the backbone's features of
  every image are computed once and the head trains on them
  (`kzoo.training.features`): the same head, one forward pass per image
  instead of one per image per epoch; the exported model is backbone +
  head;
- finetune: everything trains, the backbone at --backbone-lr-multiplier
  times --lr;
- scratch: the same architecture from random weights (the baseline);
- all: the three side by side, each from the same seed.

The backbone ends at the model's feature end (its registry entry's, see
`kzoo.training.transfer.features_of`) or at --feature-layer.
"""

import dataclasses
import os
import time

import keras
import numpy as np

from kzoo.errors import KzooError
from kzoo.models import IMAGENET, create_model, get_model_entry, list_models
from kzoo.outputs import write_json
from kzoo.run import finish, fitting, inputs, progress, sources, tensorboard
from kzoo.run.commands.transfer import TRANSFER_MODES
from kzoo.run.config import first_line
from kzoo.run.exporting import saved_model_note
from kzoo.run.result import RunResult
from kzoo.run.session import session
from kzoo.training import (
    backbone_features,
    features_dataset,
    finetune_optimizer,
    head_of,
    transfer_model,
)
from kzoo.training.transfer import BACKBONE

# The most memory cached features may take (float32); beyond, the backbone
# runs every step.
FEATURE_CACHE_BYTES = 2 * 2**30


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
        source = load_source(config)
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


def load_source(config):
    """--source: a trained model at a path, or a registered model built
    with --weights (`pretrained_source`).

    Raises:
        KzooError: Nothing loadable at --source; --weights with a path, or a
            model name without --weights.
    """
    named = config.source in list_models() and not os.path.exists(config.source)
    if config.weights is None:
        if named:
            raise KzooError(
                f"--source {config.source} is a model name: give its weights "
                "with --weights (imagenet, a weights file or a run folder), or "
                "a trained model as --source. Received: --source "
                f"{config.source}")
        return sources.load_trained(config.source, "source")
    if not named:
        raise KzooError(
            "--weights goes with a registered model name as --source (e.g. "
            "--source vgg16 --weights imagenet); a trained --source brings its "
            f"own weights. Received: --source {config.source}, "
            f"--weights {config.weights}")
    return pretrained_source(config)


def pretrained_source(config):
    """The registered model --source at --input-size (3 channels for
    ImageNet, else --channels or the model's), without its classifier
    (`include_top=False`; pooled as a trained model is cut: flattened, or
    the applications' global average), started from --weights
    (`inputs.load_initial_weights`).

    Raises:
        KzooError: The model cannot be built, or the weights do not fit.
    """
    name = config.source
    entry = get_model_entry(name)
    size = inputs.input_size(config, model=name)
    imagenet = config.weights == IMAGENET
    channels = config.channels or (3 if imagenet else entry.default_input_shape[-1])
    # The features a trained model is cut at: flattened for the classic
    # models, globally pooled for the applications (their default pooling).
    options = {"include_top": False,
               "pooling": entry.options.get("pooling") or "flatten"}
    options = {k: v for k, v in options.items() if entry.accepts(k)}
    shape = (size, size, channels)
    if imagenet:
        options.update(inputs.imagenet_options(name, options, channels))
    try:
        model = create_model(name, input_shape=shape, **options)
    except (ValueError, TypeError) as err:
        if isinstance(err, KzooError):
            raise
        raise KzooError(f"{name} cannot be built for images of shape {shape} "
                        f"(--input-size, --channels): {first_line(err)}") from None
    inputs.check_pooling_inputs(model, name)
    inputs.load_initial_weights(model, name, config.weights)
    progress.say(f"source: {name} with --weights {config.weights}; "
                 f"{size}x{size}x{channels} images, {sources.parameters(model)}")
    return model


def run_mode(mode, source, config, data, out):
    """Build, train (one phase named `mode`) and export one mode, seeded.

    Returns:
        The mode's `RunResult` (its folder, metrics, SavedModel, model).
    """
    model = build(mode, source, config, data)
    finish.write_config(config, data, out, transfer_mode=mode)
    progress.banner(f"{mode}: {sources.parameters(model)}")
    if not (mode == "head" and config.augment == "none"
            and fit_head_on_features(model, config, data, out)):
        fitting.compile_model(model, config, data.counts["train"],
                              optimizer(mode, model, config, data))
        fitting.fit(model, config, data, out, phase=mode)
    metrics, version_dir = finish.finish(model, config, data, out)
    accuracy = progress.number(metrics["test_accuracy"])
    progress.say(f"{mode}: test accuracy {accuracy} on {metrics['num_examples']} "
                 f"images; {saved_model_note(version_dir)}")
    return RunResult("transfer", out, metrics, version_dir, model=model)


def fit_head_on_features(model, config, data, out):
    """Train the head of a head-mode `model` on its backbone's features,
    computed once for the training and validation images
    (`kzoo.training.features`); `model`'s head is trained (the head model
    shares its layers). Features that would take more than
    `FEATURE_CACHE_BYTES` (a flattened map of many images) are not cached:
    the caller then trains `model` itself, the backbone running every
    step, as with --augment.

    Returns:
        Whether the head was trained here.
    """
    backbone = model.get_layer(BACKBONE)
    dims = int(np.prod(backbone.output.shape[1:]))
    images = data.counts["train"] + data.counts.get("val", 0)
    if 4 * dims * images > FEATURE_CACHE_BYTES:
        progress.say(f"features: {images:,} x {dims:,} floats is over "
                     f"{FEATURE_CACHE_BYTES / 2**30:g} GiB: not cached, the "
                     "backbone runs every step")
        return False
    tensorboard.log_training_samples(out, data, config)  # the images
    start = time.perf_counter()
    splits = {"train": backbone_features(backbone, data.train,
                                         config.batch_size)}
    if data.val is not None:
        splits["val"] = backbone_features(backbone, data.val, config.batch_size)
    seconds = time.perf_counter() - start
    count = sum(len(labels) for _, labels in splits.values())
    progress.say(f"features: {count:,} images through the frozen backbone "
                 f"once ({dims:,} values each, {seconds:.1f} s, "
                 f"{count / max(seconds, 1e-9):,.0f} images/s); the head trains "
                 "on them (--augment none)")
    cached = dataclasses.replace(
        data, **{name: features_dataset(*arrays) for name, arrays in splits.items()},
        counts={**data.counts, **{name: len(arrays[1])
                                  for name, arrays in splits.items()}})
    head = head_of(model)
    fitting.compile_model(head, config, cached.counts["train"])
    fitting.fit(head, config, cached, out, phase="head")
    return True


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
