"""Helpers shared by the benchmark scripts."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_train_recipe():
    """`recipes/train.py` as a module, so benchmarks time the recipe's own path."""
    spec = importlib.util.spec_from_file_location(
        "train_recipe", os.path.join(ROOT, "recipes", "train.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
