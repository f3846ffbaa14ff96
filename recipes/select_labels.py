"""Choose which images to label (TypiClust, ProbCover, margin, ...).

(Not `select.py`: run as a script, that name would hide the standard
library's `select` module from everything the run imports.)

The same as `kzoo select` (`python recipes/select_labels.py --help` lists every
option and its default); the run itself is `kzoo.run.select`.
"""

from kzoo.cli import run_recipe

if __name__ == "__main__":
    run_recipe("select")
