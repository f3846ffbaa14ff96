"""Runs as library functions: configure a technique, run it, get a result.

    >>> from kzoo import run
    >>> result = run.run("train", data="digits", epochs=3, out="/tmp/lenet")
    >>> result.test_accuracy, result.saved_model

`configure(command, **values)` checks values as the command line would
(one definition of every option: `kzoo.run.commands`); `run(config)` calls
the technique's function (`kzoo.run.train.train`, ...), which opens the
session (strategy, seed, precision, output folder), trains with the
resumable guarded `fit` and finishes (metrics, plots, `.keras`,
SavedModel), returning a `RunResult`.

Importing this package does not import TensorFlow; running a technique does.
"""

import importlib

from kzoo.run.commands import COMMANDS, get_command
from kzoo.run.config import RunConfig
from kzoo.run.config import configure as _configure

__all__ = ["COMMANDS", "RunConfig", "configure", "run"]


def configure(command, **values):
    """A validated `RunConfig` of `command` (`"train"`, `"noisy-student"`, ...).

    Raises:
        KzooError: Unknown command or option, or a value the option refuses.
    """
    return _configure(get_command(command), **values)


def run(command, **values):
    """Run a technique: `run("train", epochs=3)` or `run(config)`.

    Returns:
        The technique's `RunResult`.
    """
    config = command if isinstance(command, RunConfig) else configure(
        command, **values)
    if values and isinstance(command, RunConfig):
        config = _configure(config.command, **{**config.to_dict(), **values})
    module, function = config.command.target.split(":")
    return getattr(importlib.import_module(module), function)(config)
