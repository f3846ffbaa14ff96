"""Label images in the browser: kzoo select's queue, kzoo audit's review.

The same as `kzoo label` (`python recipes/label.py --help` lists every
option and its default); the run itself is `kzoo.run.label`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("label")
