"""Predict the classes of new, unlabelled images with a trained model.

The same as `kzoo predict` (`python recipes/predict.py --help` lists every
option and its default); the run itself is `kzoo.run.predict`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("predict")
