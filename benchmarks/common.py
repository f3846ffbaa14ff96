"""Helpers shared by the benchmark scripts."""

import importlib.util
import os
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_train_recipe():
    """`recipes/train.py` as a module, so benchmarks time the recipe's own path."""
    spec = importlib.util.spec_from_file_location(
        "train_recipe", os.path.join(ROOT, "recipes", "train.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class RecipeContender:
    """A model trained exactly as `recipes/train.py` would, given its flags.

    Args:
        recipe: `load_train_recipe()`.
        data: `DataSplits` to train on.
        flags: `train.py` flags.
        model: The model to train (default: the one the flags build).
        extra: Optional callable timed after each epoch (a peer's extra work).
    """

    def __init__(self, recipe, data, flags=(), model=None, extra=None):
        args = recipe.build_parser().parse_args(list(flags))
        self.model = model if model is not None else recipe.build_model(args, data)
        self.extra = extra
        recipe.compile_model(self.model, args, data.counts["train"])
        self.train = recipe.train_dataset(data, args)
        self.steps_per_epoch, _ = recipe.fit_plan(args, data.counts["train"])

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
