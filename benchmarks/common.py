"""Helpers shared by the benchmark scripts."""

import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_config(flags=()):
    """The `RunConfig` `kzoo train` would run with `flags`."""
    from kzoo.run import COMMANDS
    from kzoo.run.config import parse_argv

    return parse_argv(COMMANDS["train"], list(flags))[0]


class RecipeContender:
    """A model trained exactly as `kzoo train` would, given its flags: the
    engine's own model, `compile_model` and training dataset.

    Args:
        data: `DataSplits` to train on.
        flags: `kzoo train` flags.
        model: The model to train (default: the one the flags build).
        extra: Optional callable timed after each epoch (a peer's extra work).
    """

    def __init__(self, data, flags=(), model=None, extra=None):
        from kzoo.run import fitting, inputs

        config = train_config(flags)
        self.model = model if model is not None else inputs.build_model(config, data)
        self.extra = extra
        fitting.compile_model(self.model, config, data.counts["train"])
        self.train = inputs.train_dataset(data, config)
        self.steps_per_epoch, _ = fitting.fit_plan(config, data.counts["train"])

    def run(self, epochs):
        """Train `epochs` epochs; return seconds per epoch."""
        start = time.perf_counter()
        self.model.fit(
            self.train,
            epochs=epochs,
            steps_per_epoch=self.steps_per_epoch,
            verbose=0,
            shuffle=False,
        )
        for _ in range(epochs):
            if self.extra:
                self.extra()
        return (time.perf_counter() - start) / epochs
