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
    """A model trained exactly as `recipes/train.py` would, given its flags."""

    def __init__(self, recipe, data, flags=()):
        args = recipe.build_parser().parse_args(list(flags))
        self.model = recipe.build_model(args, data)
        recipe.compile_model(self.model, args, data.counts["train"])
        self.train, _, _ = recipe.make_datasets(data, args)
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
        return (time.perf_counter() - start) / epochs
