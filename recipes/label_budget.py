"""Accuracy against labels per class, one line per technique: the label-budget report.

The same as `kzoo label-budget` (`python recipes/label_budget.py --help` lists every
option and its default); the run itself is `kzoo.run.label_budget`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("label-budget")
