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
    engine's own model, `compile_model`, training dataset and step plan
    (`fitting.fit_plan`) for `epochs` passes, which every `run` trains.

    Args:
        data: `DataSplits` to train on.
        flags: `kzoo train` flags.
        model: The model to train (default: the one the flags build).
        extra: Optional callable timed after each epoch (a peer's extra work).
        epochs: Passes over the training data per `run`.
    """

    def __init__(self, data, flags=(), model=None, extra=None, epochs=1):
        from kzoo.run import fitting, inputs

        config = train_config(flags)
        num_train = data.counts["train"]
        self.model = model if model is not None else inputs.build_model(config, data)
        self.extra = extra
        fitting.compile_model(self.model, config, num_train, epochs=epochs)
        self.train = inputs.train_dataset(data, config)
        self.plan = fitting.fit_plan(config, num_train, epochs)
        # Every pass is ceil(n / batch) batches, the last one partial.
        self.images_per_run = num_train * epochs

    def run(self, epochs=None):
        """Train the plan's passes (`epochs`, if given, must be those);
        return seconds per pass."""
        epochs = self.plan.passes if epochs is None else epochs
        if epochs != self.plan.passes:
            raise ValueError(f"This contender trains {self.plan.passes} passes "
                             f"per run. Received: epochs={epochs}")
        start = time.perf_counter()
        self.model.fit(
            self.train,
            epochs=self.plan.epochs,
            steps_per_epoch=self.plan.steps_per_epoch,
            verbose=0,
            shuffle=False,
        )
        for _ in range(epochs):
            if self.extra:
                self.extra()
        return (time.perf_counter() - start) / epochs
