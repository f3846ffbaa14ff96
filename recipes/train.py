"""Train a registered model with `model.fit` and export it for TF Serving.

The same as `kzoo train` (`python recipes/train.py --help` lists every
option and its default); the run itself is `kzoo.run.train`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("train")
