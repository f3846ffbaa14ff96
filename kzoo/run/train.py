"""Supervised training: `kzoo train`."""

import os

from kzoo.run import finish, fitting, inputs, progress
from kzoo.run.exporting import saved_model_note
from kzoo.run.result import RunResult
from kzoo.run.session import session


def train(config):
    """Train --model on the labelled images and export it.

    With --weights the model starts from pretrained weights (see
    `inputs.build_model`): `imagenet` (the backbone of VGG-16/19 or
    a `keras.applications` family, new classifier), a `keras.applications` file, or a kzoo run of the same
    model.

    Args:
        config: A `RunConfig` of `train` (`kzoo.run.configure("train", ...)`).

    Returns:
        `RunResult` with the test metrics, the SavedModel and the model.
    """
    with session(config) as run:
        size = inputs.input_size(config)
        inputs.make_policy(config.augment, (size, size), None, config.seed)
        data = inputs.load_training_data(config, size)
        # an unusable size or --weights fails here, before any output
        model = inputs.build_model(config, data, weights=config.weights)
        out = run.output_dir(config.out or os.path.join(
            "saved_models", f"{config.model}-{data.name}"))
        inputs.describe_data(data)
        finish.write_config(config, data, out, input_size=size)
        fitting.compile_model(model, config, data.counts["train"])
        fitting.fit(model, config, data, out, phase=config.model)
        metrics, version_dir = finish.finish(model, config, data, out)
    progress.say(f"test accuracy {metrics['test_accuracy']:.4f} on "
                 f"{metrics['num_examples']} images; {saved_model_note(version_dir)}")
    return RunResult("train", out, metrics, version_dir, model=model)
