"""Transfer a trained model to new classes: new head only, fine-tune, or scratch.

The same as `kzoo transfer` (`python recipes/transfer.py --help` lists every
option and its default); the run itself is `kzoo.run.transfer`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("transfer")
