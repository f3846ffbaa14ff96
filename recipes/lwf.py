"""Learning without Forgetting: add a task to a trained model, keep the old one.

The same as `kzoo lwf` (`python recipes/lwf.py --help` lists every
option and its default); the run itself is `kzoo.run.lwf`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("lwf")
