"""Train on labelled and unlabelled images with online pseudo-labels (Lee 2013).

The same as `kzoo pseudo-label` (`python recipes/pseudo_label.py --help` lists every
option and its default); the run itself is `kzoo.run.pseudo_label`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("pseudo-label")
